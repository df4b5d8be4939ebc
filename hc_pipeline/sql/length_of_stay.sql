-- Length of discharged stays by admission month. The percentiles are approximate: Athena's approx_percentile
-- returns a value of the data within about 1% of the rank; DuckDB runs it as approx_quantile (a t-digest that
-- interpolates between values), within about 2% of the rank.
-- column month: First day of the admission month.
-- column stays: Discharged stays admitted in the month.
-- column mean_days: Mean length of stay in days.
-- column median_days: Approximate median length of stay in days.
-- column p90_days: Approximate 90th percentile of length of stay in days.
SELECT
    CAST(date_trunc('month', admission_date) AS DATE) AS month,
    count(*) AS stays,
    avg(CAST(length_of_stay_days AS DOUBLE)) AS mean_days,
    approx_percentile(CAST(length_of_stay_days AS DOUBLE), 0.5) AS median_days,
    approx_percentile(CAST(length_of_stay_days AS DOUBLE), 0.9) AS p90_days
FROM patients_curated_records
WHERE length_of_stay_days IS NOT NULL
GROUP BY CAST(date_trunc('month', admission_date) AS DATE)
ORDER BY month
