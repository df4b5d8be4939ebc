-- Accreditations of the latest record of each facility that expire within the horizon (or already have), tiered.
WITH ranked AS (
    SELECT
        facility_id,
        facility_name,
        state,
        accreditations,
        row_number() OVER (
            PARTITION BY facility_id
            ORDER BY landed_at DESC NULLS LAST, source_file DESC NULLS LAST, source_row DESC NULLS LAST
        ) AS recency
    FROM facilities_curated_records
),
latest AS (
    SELECT facility_id, facility_name, state, accreditations
    FROM ranked
    WHERE recency = 1
),
accreditation AS (
    SELECT
        f.facility_id,
        f.facility_name,
        f.state,
        a.body AS accreditation_body,
        a.id AS accreditation_id,
        a.expiry_date,
        date_diff('day', {as_of}, a.expiry_date) AS days_to_expiry
    FROM latest AS f
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
    CASE
        WHEN days_to_expiry < 0 THEN 'expired'
        WHEN days_to_expiry <= 30 THEN 'critical'
        WHEN days_to_expiry <= 60 THEN 'high'
        WHEN days_to_expiry <= 90 THEN 'medium'
        ELSE 'upcoming'
    END AS tier
FROM accreditation
WHERE days_to_expiry <= {horizon_days}
ORDER BY days_to_expiry, facility_id, accreditation_body NULLS LAST, accreditation_id NULLS LAST
