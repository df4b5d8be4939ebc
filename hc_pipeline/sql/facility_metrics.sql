-- Headline numbers for the latest record of each facility.
-- expiry_date_of_first_accreditation: of the first accreditation in the record's order, as seed 001 defines it;
-- earliest_accreditation_expiry: the soonest of them (curated first_accreditation_expiry); it orders the list.
-- column facility_id: The facility's identifier as the source sent it.
-- column facility_name: The facility's name in its latest record.
-- column employee_count: Employees in the latest record; null when not given.
-- column number_of_offered_services: How many services the latest record lists.
-- column expiry_date_of_first_accreditation: Expiry of the first accreditation in the latest record's order.
-- column earliest_accreditation_expiry: The soonest expiry among the latest record's accreditations; orders the list.
SELECT
    facility_id,
    facility_name,
    employee_count,
    n_services AS number_of_offered_services,
    element_at(accreditations, 1).expiry_date AS expiry_date_of_first_accreditation,
    first_accreditation_expiry AS earliest_accreditation_expiry
FROM facilities_latest_records
ORDER BY earliest_accreditation_expiry ASC NULLS LAST, facility_id
