-- Per state, over the latest record of each facility: size, accreditations, and those expiring within the horizon.
WITH ranked AS (
    SELECT
        facility_id,
        state,
        employee_count,
        accreditations,
        row_number() OVER (
            PARTITION BY facility_id
            ORDER BY landed_at DESC NULLS LAST, source_file DESC NULLS LAST, source_row DESC NULLS LAST
        ) AS recency
    FROM facilities_curated_records
),
latest AS (
    SELECT facility_id, state, employee_count, accreditations
    FROM ranked
    WHERE recency = 1
),
expiring AS (
    SELECT f.facility_id, count(*) AS n_expiring
    FROM latest AS f
    CROSS JOIN UNNEST(f.accreditations) AS a (body, id, expiry_date)
    WHERE date_diff('day', {as_of}, a.expiry_date) BETWEEN 0 AND {horizon_days}
    GROUP BY f.facility_id
)
SELECT
    f.state,
    count(*) AS facility_count,
    -- DuckDB widens sum(BIGINT) to HUGEINT; Athena keeps BIGINT.
    CAST(sum(f.employee_count) AS BIGINT) AS total_employees,
    CAST(sum(coalesce(cardinality(f.accreditations), 0)) AS BIGINT) AS total_accreditations,
    CAST(sum(coalesce(e.n_expiring, 0)) AS BIGINT) AS expiring_count
FROM latest AS f
LEFT JOIN expiring AS e ON e.facility_id = f.facility_id
GROUP BY f.state
ORDER BY f.state NULLS LAST
