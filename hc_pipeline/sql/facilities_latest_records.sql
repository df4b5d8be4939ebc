-- Shared view: the latest curated record of each facility across all files (the newest landing; ties: the greater
-- source_file, then source_row). Every facility report reads this instead of ranking the records itself.
SELECT *
FROM (
    SELECT
        r.*,
        row_number() OVER (
            PARTITION BY r.facility_id
            ORDER BY r.landed_at DESC NULLS LAST, r.source_file DESC NULLS LAST, r.source_row DESC NULLS LAST
        ) AS recency
    FROM facilities_curated_records AS r
) AS ranked
WHERE recency = 1
