"""Assessment: schools' annual self-assessment (självskattning) against the strategy's headings."""
