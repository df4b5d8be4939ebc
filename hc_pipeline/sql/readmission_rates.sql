-- Share of discharged stays followed by a readmission within 30 days: overall, by gender, by age band at admission,
-- and for the 20 diagnoses with the most stays. A missing gender or age counts as 'Unknown'.
WITH ordered AS (
    SELECT
        gender,
        age,
        diagnosis,
        discharge_date,
        lead(admission_date) OVER (
            PARTITION BY patient_id
            ORDER BY admission_date, source_file, source_row
        ) AS next_admission_date
    FROM patients_curated_records
),
stays AS (
    SELECT
        coalesce(gender, 'Unknown') AS gender,
        CASE
            WHEN age IS NULL THEN 'Unknown'
            WHEN age < 18 THEN '0-17'
            WHEN age < 35 THEN '18-34'
            WHEN age < 50 THEN '35-49'
            WHEN age < 65 THEN '50-64'
            WHEN age < 80 THEN '65-79'
            ELSE '80+'
        END AS age_band,
        diagnosis,
        coalesce(
            next_admission_date >= discharge_date AND date_diff('day', discharge_date, next_admission_date) <= 30,
            false
        ) AS readmitted
    FROM ordered
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
