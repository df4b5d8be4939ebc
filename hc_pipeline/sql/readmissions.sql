-- One row per discharged stay: did the patient's next admission start within 30 days of this discharge?
-- The next admission is the patient's following stay by admission_date (ties: source_file, source_row); one that
-- starts before this discharge (an overlap) is no readmission, and days_to_readmission is then NULL.
-- column patient_id: The patient's identifier as landed.
-- column admission_date: The day the stay began.
-- column discharge_date: The day the stay ended.
-- column length_of_stay_days: Whole days from admission to discharge.
-- column readmitted_within_30_days: True when the patient's next admission started within 30 days of this discharge.
-- column days_to_readmission: Days from this discharge to the next admission; null when none, or when it overlaps.
SELECT
    patient_id,
    admission_date,
    discharge_date,
    length_of_stay_days,
    readmitted_within_30_days,
    days_to_readmission
FROM patients_stays
WHERE discharge_date IS NOT NULL
ORDER BY patient_id, stay_number
