-- When the agency's system accepted the push (ConsultationDelivered), per open consultation:
-- the gateway's `delivered` status reads it here instead of scanning the events table.
-- Rows projected before this migration are filled from the events once; the projection
-- writes it from then on.
ALTER TABLE open_consultations ADD COLUMN IF NOT EXISTS delivered_at timestamptz;
UPDATE open_consultations AS o
SET delivered_at = d.delivered_at
FROM (
    SELECT case_id, data->>'consultation_id' AS consultation_id,
           min((data->>'delivered_at')::timestamptz) AS delivered_at
    FROM events
    WHERE type = 'ConsultationDelivered'
    GROUP BY case_id, data->>'consultation_id'
) AS d
WHERE o.delivered_at IS NULL
  AND d.case_id = o.case_id
  AND d.consultation_id = o.consultation_id;
