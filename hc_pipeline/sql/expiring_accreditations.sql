-- Accreditations of the latest record of each facility that expire within the horizon (or already have), tiered.
-- column facility_id: The facility's identifier as the source sent it.
-- column facility_name: The facility's name in its latest record.
-- column state: USPS code of the facility's state.
-- column accreditation_body: Who granted the accreditation (e.g. JCI, DNV).
-- column accreditation_id: The accreditation's identifier, when the source gives one.
-- column expiry_date: The day the accreditation expires.
-- column days_to_expiry: Days from the as-of date to expiry; negative when already expired.
-- column tier: Urgency: expired (< 0 days), critical (<= 30), high (<= 60), medium (<= 90), upcoming (<= horizon).
WITH accreditation AS (
    SELECT
        f.facility_id,
        f.facility_name,
        f.state,
        a.body AS accreditation_body,
        a.id AS accreditation_id,
        a.expiry_date,
        date_diff('day', {as_of}, a.expiry_date) AS days_to_expiry
    FROM facilities_latest_records AS f
    CROSS JOIN UNNEST(f.accreditations) AS a (body, id, expiry_date)
)
SELECT
    facility_id,
    facility_name,
    state,
    accreditation_body,
    accreditation_id,
    expiry_date,
    days_to_expiry,
    {expiry_tier} AS tier
FROM accreditation
WHERE days_to_expiry <= {horizon_days}
ORDER BY days_to_expiry, facility_id, accreditation_body NULLS LAST, accreditation_id NULLS LAST
