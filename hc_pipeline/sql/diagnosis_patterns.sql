-- Per diagnosis: all its stays, distinct patients, mean length of the discharged stays, and the share of
-- discharged stays followed by a readmission within 30 days (same rule as readmissions.sql).
-- Stays without a diagnosis are left out.
-- column diagnosis: The diagnosis as curated.
-- column stays: Stays with this diagnosis.
-- column patients: Distinct patients with this diagnosis.
-- column mean_length_of_stay_days: Mean length of the discharged stays in days.
-- column readmission_rate: Share of discharged stays followed by a readmission within 30 days.
SELECT
    diagnosis,
    count(*) AS stays,
    count(DISTINCT patient_id) AS patients,
    avg(CAST(length_of_stay_days AS DOUBLE)) AS mean_length_of_stay_days,
    CAST(count(CASE WHEN readmitted_within_30_days THEN 1 END) AS DOUBLE)
        / nullif(count(discharge_date), 0) AS readmission_rate
FROM patients_stays
WHERE diagnosis IS NOT NULL
GROUP BY diagnosis
ORDER BY stays DESC, diagnosis
