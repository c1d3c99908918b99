-- One row per customer across the marketplace app, Stripe and Salesforce. Matching rules, in order:
-- 1. a Stripe customer belongs to the app user named in its metadata app_user_id;
-- 2. a Salesforce Account belongs to the app user in App_User_Id__c, else to the app user of the Stripe
--    customer in Stripe_Customer_Id__c; an Account matching neither stays a Salesforce-only customer;
-- 3. its contact is the Account's earliest created live Contact.
-- Deleted Salesforce records (is_deleted) never match (Stripe's list API omits deleted customers); customers found in only some
-- systems keep NULL ids for the others. customer_key is the first of app:<user>, stripe:<id>, salesforce:<id>.
WITH stripe AS (
    SELECT id AS stripe_customer_id, TRY_CAST(metadata__app_user_id AS BIGINT) AS app_user_id, created
    FROM staging.stripe__customers
),
accounts AS (
    SELECT
        a.id AS salesforce_account_id,
        COALESCE(TRY_CAST(a.app_user_id__c AS BIGINT), s.app_user_id) AS app_user_id,
        a.stripe_customer_id__c AS stripe_customer_id,
        a.name AS account_name
    FROM staging.salesforce__account AS a
    LEFT JOIN stripe AS s ON s.stripe_customer_id = a.stripe_customer_id__c
    WHERE NOT a.is_deleted
),
contacts AS (
    SELECT account_id, min_by(id, created_date) AS salesforce_contact_id
    FROM staging.salesforce__contact
    WHERE NOT is_deleted AND account_id IS NOT NULL
    GROUP BY account_id
),
app_keyed AS (
    SELECT u.id AS app_user_id, u.email_sha256, u.country, u.signup_channel, u.created_at AS signed_up_at
    FROM staging.postgres__users AS u
),
joined AS (
    SELECT
        COALESCE(u.app_user_id, s.app_user_id, a.app_user_id) AS app_user_id,
        u.app_user_id IS NOT NULL AS in_app,
        s.stripe_customer_id,
        a.salesforce_account_id,
        a.account_name,
        u.email_sha256,
        u.country,
        u.signup_channel,
        u.signed_up_at
    FROM app_keyed AS u
    FULL OUTER JOIN stripe AS s ON s.app_user_id = u.app_user_id
    FULL OUTER JOIN accounts AS a
        ON a.app_user_id = COALESCE(u.app_user_id, s.app_user_id)
        OR (a.app_user_id IS NULL AND a.stripe_customer_id = s.stripe_customer_id)
)
SELECT
    CASE
        WHEN j.in_app THEN concat('app:', CAST(j.app_user_id AS VARCHAR))
        WHEN j.stripe_customer_id IS NOT NULL THEN concat('stripe:', j.stripe_customer_id)
        ELSE concat('salesforce:', j.salesforce_account_id)
    END AS customer_key,
    CASE WHEN j.in_app THEN j.app_user_id END AS app_user_id,
    j.stripe_customer_id,
    j.salesforce_account_id,
    c.salesforce_contact_id,
    j.account_name,
    j.email_sha256,
    j.country,
    j.signup_channel,
    j.signed_up_at,
    j.in_app,
    j.stripe_customer_id IS NOT NULL AS in_stripe,
    j.salesforce_account_id IS NOT NULL AS in_salesforce
FROM joined AS j
LEFT JOIN contacts AS c ON c.account_id = j.salesforce_account_id
