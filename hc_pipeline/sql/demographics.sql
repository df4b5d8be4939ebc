-- Patients by gender, age band, race and ethnicity, each patient counted once as of their latest admission
-- (ties: the greater source_file, then source_row). A missing value counts as 'Unknown'.
-- column dimension: What the row breaks down by: gender, age_band, race or ethnicity.
-- column value: The value of the dimension; 'Unknown' when missing.
-- column patients: Distinct patients, each counted once as of their latest admission.
WITH latest AS (
    SELECT gender, age_band, race, ethnicity
    FROM patients_stays
    WHERE latest_stay
),
by_dimension AS (
    SELECT 1 AS dimension_order, 'gender' AS dimension, coalesce(gender, 'Unknown') AS value FROM latest
    UNION ALL
    SELECT 2, 'age_band', age_band FROM latest
    UNION ALL
    SELECT 3, 'race', coalesce(race, 'Unknown') FROM latest
    UNION ALL
    SELECT 4, 'ethnicity', coalesce(ethnicity, 'Unknown') FROM latest
)
SELECT
    dimension,
    value,
    count(*) AS patients
FROM by_dimension
GROUP BY dimension_order, dimension, value
ORDER BY dimension_order, value
