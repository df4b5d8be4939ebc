-- Shared view: every curated stay with the patient's next admission (by admission_date; ties: source_file,
-- source_row), the days from this discharge to it, whether it came within 30 days, and the age band at admission.
-- A next admission that starts before this discharge (an overlap) is no readmission; days_to_readmission is then NULL.
-- stay_number counts the patient's stays in that order and latest_stay marks the last: one window, so one sort.
SELECT
    o.*,
    CASE
        WHEN o.next_admission_date >= o.discharge_date THEN date_diff('day', o.discharge_date, o.next_admission_date)
    END AS days_to_readmission,
    coalesce(
        o.next_admission_date >= o.discharge_date AND date_diff('day', o.discharge_date, o.next_admission_date) <= 30,
        false
    ) AS readmitted_within_30_days,
    CASE
        WHEN o.age IS NULL THEN 'Unknown'
        WHEN o.age < 18 THEN '0-17'
        WHEN o.age < 35 THEN '18-34'
        WHEN o.age < 50 THEN '35-49'
        WHEN o.age < 65 THEN '50-64'
        WHEN o.age < 80 THEN '65-79'
        ELSE '80+'
    END AS age_band
FROM (
    SELECT
        c.*,
        lead(c.admission_date) OVER (
            PARTITION BY c.patient_id
            ORDER BY c.admission_date, c.source_file, c.source_row
        ) AS next_admission_date,
        row_number() OVER (
            PARTITION BY c.patient_id
            ORDER BY c.admission_date, c.source_file, c.source_row
        ) AS stay_number,
        lead(true) OVER (
            PARTITION BY c.patient_id
            ORDER BY c.admission_date, c.source_file, c.source_row
        ) IS NULL AS latest_stay
    FROM patients_curated_records AS c
) AS o
