-- Headline numbers for the latest record of each facility.
WITH ranked AS (
    SELECT
        facility_id,
        facility_name,
        employee_count,
        n_services,
        first_accreditation_expiry,
        row_number() OVER (
            PARTITION BY facility_id
            ORDER BY landed_at DESC NULLS LAST, source_file DESC NULLS LAST, source_row DESC NULLS LAST
        ) AS recency
    FROM facilities_curated_records
)
SELECT
    facility_id,
    facility_name,
    employee_count,
    n_services AS number_of_offered_services,
    first_accreditation_expiry AS expiry_date_of_first_accreditation
FROM ranked
WHERE recency = 1
ORDER BY expiry_date_of_first_accreditation ASC NULLS LAST, facility_id
