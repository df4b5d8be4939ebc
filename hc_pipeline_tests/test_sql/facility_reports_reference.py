"""Pandas references for the facilities SQL reports: what each query must return, written the plain way."""

import datetime

import pandas as pd

FACILITY_METRICS_COLUMNS = [
    "facility_id",
    "facility_name",
    "employee_count",
    "number_of_offered_services",
    "expiry_date_of_first_accreditation",
    "earliest_accreditation_expiry",
]
EXPIRING_COLUMNS = [
    "facility_id",
    "facility_name",
    "state",
    "accreditation_body",
    "accreditation_id",
    "expiry_date",
    "days_to_expiry",
    "tier",
]
STATE_COUNTS_COLUMNS = ["state", "facility_count", "total_employees", "total_accreditations", "expiring_count"]


def _accreditations(value: object) -> list[dict]:
    return value if isinstance(value, list) else []


def latest_records(curated: pd.DataFrame) -> pd.DataFrame:
    """The latest record per facility_id: max landed_at, then max source_file, then max source_row."""
    ordered = curated.sort_values(["landed_at", "source_file", "source_row"], na_position="first", kind="stable")
    return ordered.groupby("facility_id", sort=False).tail(1)


def tier(days_to_expiry: int) -> str:
    """The urgency tier of an accreditation expiring in this many days (negative: already expired)."""
    if days_to_expiry < 0:
        return "expired"
    for limit, name in ((30, "critical"), (60, "high"), (90, "medium")):
        if days_to_expiry <= limit:
            return name
    return "upcoming"


def facility_metrics(curated: pd.DataFrame) -> pd.DataFrame:
    """Reference for facility_metrics.sql."""
    rows = []
    for record in latest_records(curated).to_dict("records"):
        accreditations = _accreditations(record["accreditations"])
        expiries = [a["expiry_date"] for a in accreditations if a["expiry_date"]]
        services = record["services"]
        rows.append(
            {
                "facility_id": record["facility_id"],
                "facility_name": record["facility_name"],
                "employee_count": record["employee_count"],
                "number_of_offered_services": len(services) if isinstance(services, list) else None,
                # Seed 001: the first accreditation in the record's order, whichever expires first.
                "expiry_date_of_first_accreditation": accreditations[0]["expiry_date"] if accreditations else None,
                "earliest_accreditation_expiry": min(expiries) if expiries else None,
            }
        )
    frame = pd.DataFrame(rows, columns=FACILITY_METRICS_COLUMNS)
    return frame.sort_values(["earliest_accreditation_expiry", "facility_id"], na_position="last")


def expiring_accreditations(curated: pd.DataFrame, as_of: datetime.date, horizon_days: int) -> pd.DataFrame:
    """Reference for expiring_accreditations.sql."""
    rows = []
    for record in latest_records(curated).to_dict("records"):
        for accreditation in _accreditations(record["accreditations"]):
            if accreditation["expiry_date"] is None:
                continue
            days = (accreditation["expiry_date"] - as_of).days
            if days <= horizon_days:
                rows.append(
                    {
                        "facility_id": record["facility_id"],
                        "facility_name": record["facility_name"],
                        "state": record["state"],
                        "accreditation_body": accreditation["body"],
                        "accreditation_id": accreditation["id"],
                        "expiry_date": accreditation["expiry_date"],
                        "days_to_expiry": days,
                        "tier": tier(days),
                    }
                )
    frame = pd.DataFrame(rows, columns=EXPIRING_COLUMNS)
    keys = ["days_to_expiry", "facility_id", "accreditation_body", "accreditation_id"]
    return frame.sort_values(keys, na_position="last", kind="stable")


def state_counts(curated: pd.DataFrame, as_of: datetime.date, horizon_days: int) -> pd.DataFrame:
    """Reference for state_counts.sql."""
    rows = []
    for state, group in latest_records(curated).groupby("state", sort=True):
        accreditations = [a for value in group["accreditations"] for a in _accreditations(value)]
        employees = [count for count in group["employee_count"] if pd.notna(count)]
        rows.append(
            {
                "state": state,
                "facility_count": len(group),
                "total_employees": int(sum(employees)) if employees else None,
                "total_accreditations": len(accreditations),
                "expiring_count": sum(
                    1
                    for a in accreditations
                    if a["expiry_date"] is not None and 0 <= (a["expiry_date"] - as_of).days <= horizon_days
                ),
            }
        )
    return pd.DataFrame(rows, columns=STATE_COUNTS_COLUMNS)
