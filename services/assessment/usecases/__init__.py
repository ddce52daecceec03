"""What a user, an event or a job can make happen in the assessment service, one plain async function each.

Every use case takes a ``shared.uow.UnitOfWork`` first (the connection inside its transaction, and
``uow.publish`` as the only way into the outbox), then the caller (``shared.auth.Principal``) when there is
one, then plain arguments, and returns a result rather than an HTTP answer. Refusals are raised as
``shared.problems.Problem``. The adapters that call them are thin: HTTP routes (``routes/``) and the start-up
step (``startup.py``); the service's event handlers and job are the shared privacy and retention ones.

    campaigns    open_campaign, close_campaign
    assessments  save_answers, submit_assessment, reopen_assessment (and load / load_readable for reads)
    pulse        record_pulse_answer (and open_pulse for the questionnaire)
    actions      add_action, change_action
    frameworks   publish_framework
"""
