-- Per state, over the latest record of each facility: size, accreditations, and those expiring within the horizon.
-- column state: USPS code of the state.
-- column facility_count: Facilities whose latest record is in the state.
-- column total_employees: Employees over those facilities (records without a count add nothing).
-- column total_accreditations: Accreditations listed by those facilities.
-- column expiring_count: Accreditations expiring between the as-of date and the horizon.
WITH expiring AS (
    SELECT f.facility_id, count(*) AS n_expiring
    FROM facilities_latest_records AS f
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
FROM facilities_latest_records AS f
LEFT JOIN expiring AS e ON e.facility_id = f.facility_id
GROUP BY f.state
ORDER BY f.state NULLS LAST
