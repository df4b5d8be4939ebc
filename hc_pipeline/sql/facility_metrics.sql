-- Headline numbers for the latest record of each facility.
SELECT
    facility_id,
    facility_name,
    employee_count,
    n_services AS number_of_offered_services,
    first_accreditation_expiry AS expiry_date_of_first_accreditation
FROM facilities_latest_records
ORDER BY expiry_date_of_first_accreditation ASC NULLS LAST, facility_id
