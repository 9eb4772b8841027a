"""NPS answers reach the warehouse as the ``survey_responses`` dataset and chart by day with a group filter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prodops.domains.analytics.service import datasets, insights
from prodops.domains.surveys import service as surveys
from prodops.domains.surveys.schemas import ResponseIn
from prodops.platform.db import session_scope
from tests.surveys.conftest import ACTOR, make_survey


def test_survey_responses_load_with_their_nps_group(clean_warehouse: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    with session_scope() as s:
        survey = make_survey(s)
        for days, score in [(1, 10), (1, 6), (2, 0), (2, 8), (3, 9)]:
            surveys.record_response(
                s, ACTOR, survey.id, ResponseIn(answers={"score": score}, responded_at=now - dt.timedelta(days=days))
            )
    with session_scope() as s:
        assert "survey_responses" in datasets.registered()
        assert datasets.load_dataset(s, "survey_responses") == 5
    wh = clean_warehouse
    groups = wh.query("SELECT nps_group, count(*) FROM ds_survey_responses GROUP BY 1 ORDER BY 1").rows
    assert groups == [("detractor", 2), ("passive", 1), ("promoter", 2)]
    query = insights.parse_query(
        {
            "kind": "dataset",
            "dataset": "survey_responses",
            "date_column": "responded_at",
            "where_column": "nps_group",
            "where_value": "detractor",
            "date_from": "-7d",
        }
    )
    result = insights.run(wh, query, now)
    assert sum(p.value for p in result.series[0].points) == 2
