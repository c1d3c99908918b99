-- One row per marketplace product with its current attributes. List prices are in the product's own
-- currency; order lines carry the converted unit price actually charged.
SELECT
    p.id AS product_id,
    p.sku,
    p.name AS product_name,
    p.category,
    CAST(p.price AS DECIMAL(18, 2)) AS list_price,
    p.currency,
    p.tags,
    cardinality(p.tags) AS tag_count,
    contains(p.tags, 'bestseller') AS is_bestseller,
    p.thumbnail IS NOT NULL AS has_thumbnail,
    p.created_at,
    p.updated_at
FROM staging.postgres__products AS p
