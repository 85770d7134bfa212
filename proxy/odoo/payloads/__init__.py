"""Odoo's payloads as the visitor's guest sees them, parsed: bus notifications (WebSocket frames or
``/websocket/peek_notifications``) and the answer of ``/im_livechat/cors/channel/messages``.

Pure parsing, no I/O; tested on payloads recorded from real Odoo 17.0, 18.0 and 19.0 servers
(tests/fixtures/odoo/<version>/). One module per concern:

- ``values``: ids, bodies, lists, 18/19 Store payloads (the lenient readers the others use);
- ``authors``: who wrote a message or is a member (operator, bot, visitor) and the name shown;
- ``attachments``: a message's files and the URL the visitor may fetch them at;
- ``messages``: ``OdooMessage``, ``BusItem``, message parsing, edits (``LastEdits``);
- ``bus``: one bus frame → ``BusItem``s for one session (``bus_items``, ``last_bus_id``);
- ``polling``: the messages route's parameters and answer (``poll_params``, ``poll_messages``).

The names below are the package's public surface; the modules' own public names are for each other
and for the relay's other Odoo readers (the batch poller, the shared bus)."""
from proxy.odoo.adapters import ShapeError
from proxy.odoo.payloads.authors import ODOOBOT_PARTNER_ID
from proxy.odoo.payloads.bus import HISTORY_COMMAND, LEFT_NOTE, bus_items, last_bus_id
from proxy.odoo.payloads.messages import BusItem, LastEdits, OdooMessage
from proxy.odoo.payloads.polling import poll_messages, poll_params

__all__ = ["HISTORY_COMMAND", "LEFT_NOTE", "ODOOBOT_PARTNER_ID", "BusItem", "LastEdits", "OdooMessage", "ShapeError",
           "bus_items", "last_bus_id", "poll_messages", "poll_params"]
