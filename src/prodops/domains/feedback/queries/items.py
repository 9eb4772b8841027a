"""Reading items and links, with the names of who, which account, product, assignee and feature — in a fixed
number of statements however many items (no N+1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from prodops.domains.customers import service as customers
from prodops.domains.features import service as features
from prodops.domains.feedback.models import FeedbackItem, FeedbackLink
from prodops.domains.feedback.queries.insights import ItemInsight, with_insights
from prodops.domains.feedback.schemas import FeedbackOut, LinkOut
from prodops.platform.errors import NotFound
from prodops.platform.identity.models import User
from prodops.platform.org.models import Product


def links_out(session: Session, links: Sequence[FeedbackLink]) -> list[LinkOut]:
    found = features.features_by_id(session, sorted({link.feature_id for link in links})) if links else {}
    result = []
    for link in links:
        out = LinkOut.model_validate(link)
        feature = found.get(link.feature_id)
        if feature is not None:
            out.feature_title = feature.title
            out.feature_status = feature.status_label
        result.append(out)
    return result


def items_out(
    session: Session,
    items: Sequence[FeedbackItem],
    *,
    with_links: bool = True,
    insights: Mapping[int, ItemInsight] | None = None,
) -> list[FeedbackOut]:
    """Items as API/page shapes with their stored analysis (type, sentiment, theme; pass ``insights`` when they
    were read with the items); names are fetched once per kind for the whole list."""
    if not items:
        return []
    people = customers.people_by_id(session, sorted({i.person_id for i in items if i.person_id is not None}))
    accounts = customers.accounts_by_id(session, sorted({i.account_id for i in items if i.account_id is not None}))
    product_ids = sorted({i.product_id for i in items if i.product_id is not None})
    products = dict(session.execute(select(Product.id, Product.name).where(Product.id.in_(product_ids))).all())
    user_ids = sorted({i.assignee_id for i in items if i.assignee_id is not None})
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    links = links_out(session, [link for i in items for link in i.links]) if with_links else []
    links_by_item: dict[int, list[LinkOut]] = {}
    for link in links:
        links_by_item.setdefault(link.item_id, []).append(link)
    result = []
    for item in items:
        out = FeedbackOut.model_validate(item)
        out.links = links_by_item.get(item.id, [])
        person = people.get(item.person_id) if item.person_id is not None else None
        if person is not None:
            out.person_email, out.person_name = person.email, person.name
        account = accounts.get(item.account_id) if item.account_id is not None else None
        if account is not None:
            out.account_name, out.account_arr = account.name, account.arr
        out.product_name = products.get(item.product_id) if item.product_id is not None else None
        user = users.get(item.assignee_id) if item.assignee_id is not None else None
        if user is not None:
            out.assignee_name = user.name or user.email
        result.append(out)
    return with_insights(session, result, insights)


def get_item(session: Session, item_id: int) -> FeedbackOut:
    item = session.get(FeedbackItem, item_id)
    if item is None:
        raise NotFound("feedback item", item_id)
    return items_out(session, [item])[0]


def items_by_id(session: Session, ids: Sequence[int]) -> dict[int, FeedbackOut]:
    items = list(session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(sorted(set(ids)))))) if ids else []
    return {out.id: out for out in items_out(session, items)}


def get_link(session: Session, link_id: int) -> LinkOut:
    link = session.get(FeedbackLink, link_id)
    if link is None:
        raise NotFound("link", link_id)
    return links_out(session, [link])[0]
