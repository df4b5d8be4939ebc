"""Words the layers share: values a reader writes into raw records and a rule reads back."""

import pyarrow

# The parse_error of a Synthea encounter whose patient is missing from the export's patients.csv.
UNKNOWN_PATIENT = "encounter's patient is not in patients.csv"
# Synthea's REASONCODE is a SNOMED CT concept id, not ICD-10: say so, so the code rule can tell them apart.
SNOMED_CT = "SNOMED-CT"
# The type of every curated table's `extra` column: what a source sent beyond the contract, field -> text.
EXTRA_TYPE = pyarrow.map_(pyarrow.string(), pyarrow.string())
