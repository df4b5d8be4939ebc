-- Share of discharged stays followed by a readmission within 30 days: overall, by gender, by age band at admission,
-- and for the 20 diagnoses with the most stays. A missing gender or age counts as 'Unknown'.
-- column dimension: What the row breaks down by: overall, gender, age_band or diagnosis.
-- column value: The value of the dimension (e.g. Female, 18-34, a diagnosis); 'all' for overall.
-- column stays: Discharged stays in the group.
-- column readmissions: Of those, stays followed by a readmission within 30 days.
-- column readmission_rate: readmissions / stays, between 0 and 1.
WITH stays AS (
    SELECT
        coalesce(gender, 'Unknown') AS gender,
        age_band,
        diagnosis,
        readmitted_within_30_days AS readmitted
    FROM patients_stays
    WHERE discharge_date IS NOT NULL
),
diagnosis_ranks AS (
    SELECT
        diagnosis,
        row_number() OVER (ORDER BY count(*) DESC, diagnosis) AS diagnosis_rank
    FROM stays
    WHERE diagnosis IS NOT NULL
    GROUP BY diagnosis
),
by_dimension AS (
    SELECT 1 AS dimension_order, 'overall' AS dimension, 'all' AS value, readmitted FROM stays
    UNION ALL
    SELECT 2, 'gender', gender, readmitted FROM stays
    UNION ALL
    SELECT 3, 'age_band', age_band, readmitted FROM stays
    UNION ALL
    SELECT 4, 'diagnosis', s.diagnosis, s.readmitted
    FROM stays AS s
    JOIN diagnosis_ranks AS d ON d.diagnosis = s.diagnosis
    WHERE d.diagnosis_rank <= 20
)
SELECT
    dimension,
    value,
    count(*) AS stays,
    count(CASE WHEN readmitted THEN 1 END) AS readmissions,
    CAST(count(CASE WHEN readmitted THEN 1 END) AS DOUBLE) / count(*) AS readmission_rate
FROM by_dimension
GROUP BY dimension_order, dimension, value
-- Diagnoses by stays, most first; the other dimensions by value.
ORDER BY dimension_order, CASE WHEN dimension = 'diagnosis' THEN -count(*) ELSE 0 END, value
