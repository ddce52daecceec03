"""Notification: messages to guardians and staff — preferences, channels, delivery status."""
