"""What people read: the monthly report (recommendation 28), the night's summary and scrutiny packs.

- estimates.py: weighted proportions and means with design-based 95% intervals
- design.py: the month's sample design (weights covering failed calls, collapsed strata)
- tables.py: the month's estimates table and frequent callers
- monthly.py: `build_monthly_report`, writing `<out>/reports/<month>/`
- render.py: report.html laid out from the estimates (templates/report.html)
- summary.py: `NightSummary`, what a night did
- scrutiny.py: scrutiny packs' calls, pages, index and manifest
- pages.py and cells.py: the pages' Jinja2 templates, and scorecards' map and list cells
"""

from pipeline.report.design import sample_design
from pipeline.report.estimates import ProportionEstimate, weighted_mean, weighted_proportions
from pipeline.report.monthly import MonthlyReport, build_monthly_report
from pipeline.report.scrutiny import (
    ScrutinyCall,
    choose_scrutiny_calls,
    write_scrutiny_index,
    write_scrutiny_manifest,
    write_scrutiny_page,
)
from pipeline.report.summary import NightSummary
from pipeline.report.tables import frequent_callers, monthly_estimates

__all__ = [
    "MonthlyReport",
    "NightSummary",
    "ProportionEstimate",
    "ScrutinyCall",
    "build_monthly_report",
    "choose_scrutiny_calls",
    "frequent_callers",
    "monthly_estimates",
    "sample_design",
    "weighted_mean",
    "weighted_proportions",
    "write_scrutiny_index",
    "write_scrutiny_manifest",
    "write_scrutiny_page",
]
