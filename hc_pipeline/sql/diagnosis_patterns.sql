-- Per diagnosis: all its stays, distinct patients, mean length of the discharged stays, and the share of
-- discharged stays followed by a readmission within 30 days (same rule as readmissions.sql).
-- Stays without a diagnosis are left out.
WITH ordered AS (
    SELECT
        patient_id,
        diagnosis,
        discharge_date,
        length_of_stay_days,
        lead(admission_date) OVER (
            PARTITION BY patient_id
            ORDER BY admission_date, source_file, source_row
        ) AS next_admission_date
    FROM patients_curated_records
),
stays AS (
    SELECT
        patient_id,
        diagnosis,
        discharge_date,
        length_of_stay_days,
        next_admission_date >= discharge_date
            AND date_diff('day', discharge_date, next_admission_date) <= 30 AS readmitted
    FROM ordered
    WHERE diagnosis IS NOT NULL
)
SELECT
    diagnosis,
    count(*) AS stays,
    count(DISTINCT patient_id) AS patients,
    avg(CAST(length_of_stay_days AS DOUBLE)) AS mean_length_of_stay_days,
    CAST(count(CASE WHEN readmitted THEN 1 END) AS DOUBLE)
        / nullif(count(discharge_date), 0) AS readmission_rate
FROM stays
GROUP BY diagnosis
ORDER BY stays DESC, diagnosis
