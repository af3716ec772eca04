-- 0011 audit: revert.
DROP FUNCTION audit.uniform_image(jsonb, text);
DROP FUNCTION audit.timestamp_columns();
