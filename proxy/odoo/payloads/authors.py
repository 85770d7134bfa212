"""Who wrote a message or is a member of a session, as the visitor is told: ``operator``, ``bot`` or
``visitor``, and the name shown (an operator's livechat username when there is one), from 17's
message_format authors and personas or from what an 18/19 Store says about partners, guests and
users."""
from __future__ import annotations

from proxy.odoo.payloads.values import StorePayload, int_id, ref_id, text

# base.partner_root / base.user_root ("OdooBot") in every database these samples come from (and in
# any database made by Odoo's own data files: they are the second partner and the first user).
ODOOBOT_PARTNER_ID = 2
ODOOBOT_USER_ID = 1


def partner_kind(partner_id: int | None, *, is_bot=False, has_user=None, internal=None, user_id=None) -> str:
    """Kind of a partner author: OdooBot and partners without a user (chatbot script partners) are
    bots, internal users operators, portal and website users visitors.

    ``has_user``: whether the partner has any user (None: the payload does not say);
    ``internal``: whether that user is internal (None: not known).
    """
    if is_bot is True or partner_id == ODOOBOT_PARTNER_ID or user_id == ODOOBOT_USER_ID:
        return "bot"
    if has_user is False:
        # a partner with no user at all: chatbot script partners are like that (a visitor is a
        # guest, or a portal/website user when logged in)
        return "bot"
    if internal is True:
        return "operator"
    if internal is False:
        return "visitor"     # portal / website user
    # The payload cannot tell (e.g. 18's typing Store has no isInternalUser): the safe default for a
    # non-guest author is "operator" (only guests and share users are visitors).
    return "operator"


def partner_name(partner: dict) -> str:
    # 18/19 livechat operators may have a livechat username, which is what visitors are shown
    return text(partner.get("user_livechat_username")) or text(partner.get("name"))


def author_17(author) -> tuple[str, str]:
    if not isinstance(author, dict):
        return "operator", ""      # author_id false and no guest: nothing to go by (safe default)
    # 17 drops "name" and sends user_livechat_username when the operator has an alias
    name = partner_name(author)
    if author.get("type") == "guest":
        return "visitor", name
    user = author.get("user")
    if user is False or (user is None and "user" in author):
        return partner_kind(int_id(author.get("id")), is_bot=author.get("is_bot"), has_user=False), name
    if isinstance(user, dict):
        internal = user.get("isInternalUser")
        return partner_kind(int_id(author.get("id")), is_bot=author.get("is_bot"), has_user=True,
                             internal=internal if isinstance(internal, bool) else None,
                             user_id=int_id(user.get("id"))), name
    return partner_kind(int_id(author.get("id")), is_bot=author.get("is_bot")), name


def store_partner_kind(store: StorePayload, partner_id: int | None, extra: dict | None = None) -> str:
    """Kind of a res.partner from what an 18 or 19 Store says about it."""
    partner = store.get("res.partner", partner_id)
    extra = extra or {}
    is_bot = extra.get("is_bot") is True or partner.get("is_bot") is True
    has_user, internal, user_id = None, None, None
    if "isInternalUser" in partner or "userId" in partner:          # 18
        user_id = int_id(partner.get("userId"))
        if isinstance(partner.get("isInternalUser"), bool):
            internal = partner["isInternalUser"]
        if "userId" in partner:
            has_user = user_id is not None
            if has_user is False:
                internal = None
    if "main_user_id" in partner:                                   # 19
        user_id = ref_id(partner.get("main_user_id"))
        has_user = user_id is not None
        user = store.get("res.users", user_id)
        if isinstance(user.get("share"), bool):
            internal = not user["share"]
    return partner_kind(partner_id, is_bot=is_bot, has_user=has_user, internal=internal, user_id=user_id)


def author_partner(msg: dict) -> int | None:
    """The res.partner of an 18/19 message's author (None for a guest)."""
    author = msg.get("author")
    if isinstance(author, dict):
        return int_id(author.get("id")) if author.get("type") != "guest" else None
    return None if ref_id(msg.get("author_guest_id")) is not None else ref_id(msg.get("author_id"))


def author_store(store: StorePayload, msg: dict) -> tuple[str, str]:
    """(kind, name) of an 18/19 message in its Store."""
    author = msg.get("author")
    guest_id = partner_id = None
    if isinstance(author, dict):                                    # 18: {"id", "type"}
        if author.get("type") == "guest":
            guest_id = int_id(author.get("id"))
        else:
            partner_id = int_id(author.get("id"))
    else:                                                           # 19: plain ids
        guest_id = ref_id(msg.get("author_guest_id"))
        partner_id = ref_id(msg.get("author_id"))
    if guest_id is not None:
        return "visitor", text(store.get("mail.guest", guest_id).get("name"))
    if partner_id is not None:
        return store_partner_kind(store, partner_id), partner_name(store.get("res.partner", partner_id))
    return "operator", ""      # neither author nor guest: nothing to go by (safe default)


def persona_kind(persona: dict, is_bot=None) -> str:
    if persona.get("type") == "guest":
        return "visitor"
    return partner_kind(int_id(persona.get("id")), is_bot=persona.get("is_bot") or is_bot)


def store_member(member: dict, store: StorePayload) -> tuple[str, str]:
    """(name, kind) of an 18/19 discuss.channel.member record."""
    kind_19 = member.get("livechat_member_type")
    persona = member.get("persona")
    guest_id = partner_id = None
    if isinstance(persona, dict):                                   # 18
        if persona.get("type") == "guest":
            guest_id = int_id(persona.get("id"))
        else:
            partner_id = int_id(persona.get("id"))
    else:                                                           # 19
        guest_id = ref_id(member.get("guest_id"))
        partner_id = ref_id(member.get("partner_id"))
    if guest_id is not None:
        name, kind = text(store.get("mail.guest", guest_id).get("name")), "visitor"
    else:
        name = partner_name(store.get("res.partner", partner_id))
        kind = store_partner_kind(store, partner_id, member)
    if isinstance(kind_19, str):
        kind = {"agent": "operator", "visitor": "visitor", "bot": "bot"}.get(kind_19, kind)
    return name, kind
