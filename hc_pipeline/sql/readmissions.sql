-- One row per discharged stay: did the patient's next admission start within 30 days of this discharge?
-- The next admission is the patient's following stay by admission_date (ties: source_file, source_row); one that
-- starts before this discharge (an overlap) is no readmission, and days_to_readmission is then NULL.
WITH ordered AS (
    SELECT
        patient_id,
        admission_date,
        discharge_date,
        length_of_stay_days,
        source_file,
        source_row,
        lead(admission_date) OVER (
            PARTITION BY patient_id
            ORDER BY admission_date, source_file, source_row
        ) AS next_admission_date
    FROM patients_curated_records
),
gaps AS (
    SELECT
        patient_id,
        admission_date,
        discharge_date,
        length_of_stay_days,
        source_file,
        source_row,
        CASE
            WHEN next_admission_date >= discharge_date THEN date_diff('day', discharge_date, next_admission_date)
        END AS days_to_readmission
    FROM ordered
    WHERE discharge_date IS NOT NULL
)
SELECT
    patient_id,
    admission_date,
    discharge_date,
    length_of_stay_days,
    coalesce(days_to_readmission <= 30, false) AS readmitted_within_30_days,
    days_to_readmission
FROM gaps
ORDER BY patient_id, admission_date, source_file, source_row
