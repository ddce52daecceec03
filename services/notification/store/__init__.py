"""SQL of the notification service, one module per area (plain parameterised SQL, the caller's connection and
transaction). The functions of the areas messages are made and sent from are also reachable as ``store.<name>``;
recipients' preferences (``store.preferences``: its function of the same name would hide the module), the access log
(``store.audit``), the right of access (``store.access_requests``) and erasure (``store.erasure``) are used through their modules."""

from __future__ import annotations

from services.notification.store.broadcasts import (  # noqa: F401
    PENDING,
    REACHED,
    audience,
    audience_members,
    broadcast,
    broadcast_counts,
    broadcast_reach,
    broadcast_schools,
    channel_coverage,
    create_broadcast,
    receipts,
    school_units,
)
from services.notification.store.campaigns import (  # noqa: F401
    close_campaign,
    mark_submitted,
    open_deadlines,
    record_campaign,
)
from services.notification.store.contacts import (  # noqa: F401
    contact,
    person_known,
    save_contact,
    save_contacts,
    unknown_persons,
)
from services.notification.store.deliveries import (  # noqa: F401
    DELIVERY_FACTS,
    add_fallbacks,
    bundled_failed,
    claim,
    delivery_by_reference,
    digest_items,
    fallback_facts,
    mark_accepted,
    mark_delivered,
    mark_failed,
    outgoing,
    retry_later,
)
from services.notification.store.digests import (  # noqa: F401
    create_digests,
    due_digests,
)
from services.notification.store.messages import (  # noqa: F401
    add_deliveries,
    cancel_pending,
    create_message,
    inbox,
    log_bypasses,
    mark_read,
    recipient_facts,
    school_name,
    still_related,
)
from services.notification.store.reach import (  # noqa: F401
    guardian_reach,
    reach_published,
)
from services.notification.store.worklists import (  # noqa: F401
    bypasses,
    unreached,
)
