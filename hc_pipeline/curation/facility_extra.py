"""Which fields of a facility record the curated contract holds entirely; the rest is kept in `extra`."""

from hc_pipeline.sources.json_numbers import LargeNumber

LOCATION_FIELDS = ("address", "city", "state", "zip")
_TEXT_FIELDS = frozenset({"facility_id", "facility_name", *LOCATION_FIELDS})
_READ_FIELDS = _TEXT_FIELDS | {"employee_count", "services", "labs", "accreditations", "location"}
# Each variant's spelling of a field; an object giving both keeps only one of them in the contract columns.
_ACCREDITATION_SPELLINGS = (("accreditation_body", "name"), ("accreditation_id", "id"), ("valid_until", "expiry_date"))
_LAB_SPELLINGS = (("lab_name", "name"),)
_ACCREDITATION_FIELDS = frozenset(name for pair in _ACCREDITATION_SPELLINGS for name in pair)
_LAB_FIELDS = frozenset({"lab_name", "name", "certifications"})
# The types a parsed JSON scalar has (LargeNumber: a number past a float's range); bool is no scalar here.
_SCALAR_TYPES = frozenset({str, int, float, LargeNumber, type(None)})


def _scalar(value: object) -> bool:
    return type(value) in _SCALAR_TYPES or (isinstance(value, (str, int, float)) and not isinstance(value, bool))


def _objects_within(value: object, fields: frozenset[str], spellings: tuple = ()) -> bool:
    """A list (or one value) of scalars, or of objects holding no fields but these, each spelt one way."""
    for item in value if isinstance(value, list) else [value]:
        if type(item) in _SCALAR_TYPES:  # most items: checked here without a call
            continue
        if isinstance(item, dict):
            if not fields.issuperset(item) or any(one in item and other in item for one, other in spellings):
                return False
        elif not _scalar(item):
            return False
    return True


def _held_entirely(key: str, value: object, location: dict) -> bool:
    """Whether the contract columns hold this top-level field entirely."""
    if key not in _READ_FIELDS:
        return False
    if key in LOCATION_FIELDS and key in location:
        return False  # the nested value wins; the flat one is kept in extra
    if key in _TEXT_FIELDS:
        return _scalar(value)
    if key == "location":
        return isinstance(value, dict) and all(k in LOCATION_FIELDS and _scalar(v) for k, v in value.items())
    if key == "services":
        return _objects_within(value, frozenset())
    if key == "labs":
        labs = value if isinstance(value, list) else [value]
        return _objects_within(labs, _LAB_FIELDS, _LAB_SPELLINGS) and all(
            _objects_within(lab.get("certifications"), frozenset()) for lab in labs if isinstance(lab, dict)
        )
    if key == "accreditations":
        return _objects_within(value, _ACCREDITATION_FIELDS, _ACCREDITATION_SPELLINGS)
    return True  # employee_count: a value it cannot hold quarantines the record, its JSON text with it


def extra_fields(record: dict) -> dict:
    """The record's top-level fields that the contract columns do not hold entirely, as sent."""
    location = record.get("location") if isinstance(record.get("location"), dict) else {}
    return {key: value for key, value in record.items() if not _held_entirely(key, value, location)}
