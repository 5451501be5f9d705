-- The transaction of one accepted subsidy application (POST /api/v1/subsidies/applications), written in SQL for
-- pgbench: the same statements, on the same tables, indexes, constraints and triggers, in the same order as
-- `submit_application` issues them through the ORM (bench/intake.py prints the ORM's own count beside this
-- one's), without Python, HTTP or JSON. bench/intake.py --compare runs it with as many clients as the web load.
--
-- Variables (pgbench -D): keyhash (an API token's SHA-256), prog (programme id), uid (merchant user id),
-- org (merchant organisation id), region (programme region id), chains (the audit log's chain count).
\set n random(1, 9000000000000000)
-- the API token and its user (one query, as ninja's auth does), then the programme by code
SELECT t.id, t.user_id, u.role, u.organisation_id FROM core_apitoken t JOIN core_user u ON u.id = t.user_id
  WHERE t.key_hash = ':keyhash';
SELECT id, status, opens_on, closes_on, parameters FROM subsidies_programme WHERE id = :prog;
BEGIN;
-- idempotency: an earlier application with this key
SELECT id, number FROM subsidies_application WHERE created_by_id = :uid AND idempotency_key = 'pgb' || :n;
-- per-person limit, identifiers never used, price sample of the model
SELECT used FROM subsidies_personusage WHERE programme_id = :prog AND applicant_hash = md5(:n::text) || md5(:n::text)
  AND scope = 'refrigerator';
SELECT 1 FROM subsidies_claim WHERE active AND kind = 'invoice' AND value = 'PGB' || :n LIMIT 1;
SELECT 1 FROM subsidies_claim WHERE active AND kind = 'serial' AND value = 'refrigerator:PGB' || :n LIMIT 1;
SELECT price_fen FROM subsidies_applicationitem WHERE brand_model = '海尔BCD-501' ORDER BY id DESC LIMIT 200;
SAVEPOINT twin;
INSERT INTO subsidies_application (number, programme_id, region_id, channel, merchant_id, applicant_user_id,
    applicant_name, applicant_id, applicant_hash, phone, status, amount_fen, risk_score, risk_reasons, checks,
    created_by_id, created_at, idempotency_key, fingerprint)
  VALUES ('TMP' || :n, :prog, :region, 'merchant', :org, NULL,
    'g1:q0bYxTa7f6C2n9hV1sPZkQ8m3Lr5Uw4eYJt0dGNc2HbAiKoRzXyE1uv7WlMpS6IfD3gqhO8=',
    'g1:q0bYxTa7f6C2n9hV1sPZkQ8m3Lr5Uw4eYJt0dGNc2HbAiKoRzXyE1uv7WlMpS6IfD3gqhO8=',
    md5(:n::text) || md5(:n::text),
    'g1:q0bYxTa7f6C2n9hV1sPZkQ8m3Lr5Uw4eYJt0dGNc2HbAiKoRzXyE1uv7WlMpS6IfD3gqhO8=',
    'reserved', 79980, 0, '[]',
    '[{"name": "身份核验", "outcome": "passed", "reason": "身份证号码和手机号码有效"}, {"name": "受理期与开票日期", "outcome": "passed", "reason": "在受理期内"}, {"name": "每人限额", "outcome": "passed", "reason": "未超过每人限额"}, {"name": "凭证唯一", "outcome": "passed", "reason": "2项凭证均未使用过"}, {"name": "价格合理性", "outcome": "passed", "reason": "未见异常"}]',
    :uid, now(), 'pgb' || :n, md5('fp' || :n) || md5(:n::text))
  RETURNING id AS app \gset
RELEASE SAVEPOINT twin;
UPDATE subsidies_application SET number = 'BT' || to_char(now(), 'YYMMDD') || lpad(:app::text, 7, '0') || lpad((:n % 10000)::text, 4, '0')
  WHERE id = :app;
INSERT INTO subsidies_applicationitem (application_id, kind, brand_model, serial, vin, invoice_no, invoice_date,
    price_fen, grade, certificate_no, amount_fen, explanation, details)
  VALUES (:app, 'refrigerator', '海尔BCD-501', 'PGB' || :n, '', 'PGB' || :n, current_date, 399900, '1', '', 79980,
    '1级能效，按售价20%补贴，上限2000.00元', '{}') RETURNING id;
SAVEPOINT claims;
INSERT INTO subsidies_claim (kind, value, application_id, active)
  VALUES ('invoice', 'PGB' || :n, :app, true), ('serial', 'refrigerator:PGB' || :n, :app, true) RETURNING id;
RELEASE SAVEPOINT claims;
-- the ledger's reservation: programme again, one free stripe with enough money (a fresh number: no earlier
-- reservation to look for)
SAVEPOINT reserve;
SELECT id, status, opens_on, closes_on, daily_quota_fen FROM subsidies_programme WHERE id = :prog;
SELECT coalesce(max(avail), 0) AS avail, coalesce(max(resv), 0) AS resv FROM (
  SELECT a.id AS avail, (SELECT r.id FROM subsidies_account r WHERE r.programme_id = a.programme_id
      AND r.stripe = a.stripe AND r.kind = 'reserved') AS resv
    FROM subsidies_account a WHERE a.programme_id = :prog AND a.kind = 'available' AND a.balance_fen >= 79980
    ORDER BY random() LIMIT 1 FOR NO KEY UPDATE OF a SKIP LOCKED) pick \gset
-- every stripe with enough held by another transaction: wait for one of them, at random (as _pick_stripe)
\if :avail = 0
SELECT a.id AS avail, (SELECT r.id FROM subsidies_account r WHERE r.programme_id = a.programme_id
    AND r.stripe = a.stripe AND r.kind = 'reserved') AS resv
  FROM subsidies_account a WHERE a.id = (SELECT id FROM subsidies_account WHERE programme_id = :prog
    AND kind = 'available' AND balance_fen >= 79980 ORDER BY random() LIMIT 1)
  FOR NO KEY UPDATE OF a \gset
\endif
INSERT INTO subsidies_entry (programme_id, kind, debit_id, credit_id, amount_fen, reference, note, actor_id, at)
  VALUES (:prog, 'reserve', :resv, :avail, 79980, 'BT' || to_char(now(), 'YYMMDD') || lpad(:app::text, 7, '0') || lpad((:n % 10000)::text, 4, '0'), '',
    :uid, now()) RETURNING id AS entry \gset
UPDATE subsidies_account SET balance_fen = balance_fen + CASE WHEN id = :avail THEN -79980 ELSE 79980 END
  WHERE id IN (:avail, :resv);
-- its audit event, on the session's chain
SELECT pg_advisory_xact_lock(1752719733, pg_backend_pid() % :chains);
SELECT seq AS last_seq, hash AS last_hash FROM (SELECT seq, hash FROM core_auditevent
  WHERE chain = pg_backend_pid() % :chains ORDER BY seq DESC LIMIT 1) last
  UNION ALL SELECT 0, repeat('0', 64) ORDER BY 1 DESC LIMIT 1 \gset
INSERT INTO core_auditevent (chain, seq, at, actor_id, actor_label, action, object_type, object_id, object_repr,
    changes, prev_hash, hash)
  VALUES (pg_backend_pid() % :chains, :last_seq + 1, now(), :uid, 'pgbench', 'subsidies.reserved', 'subsidies.entry',
    :entry, '预留 79980', '{"amount_fen": 79980, "programme": "intake", "stripe": 0}', ':last_hash',
    encode(sha256(convert_to(':last_hash' || :entry || 'subsidies.reserved', 'UTF8')), 'hex'));
RELEASE SAVEPOINT reserve;
-- the person's limit, held by the database (limits.take: one conditional upsert per scope)
INSERT INTO subsidies_personusage (programme_id, applicant_hash, scope, used)
  VALUES (:prog, md5(:n::text) || md5(:n::text), 'refrigerator', 1)
  ON CONFLICT (programme_id, applicant_hash, scope) DO UPDATE SET used = subsidies_personusage.used + excluded.used
  WHERE subsidies_personusage.used + excluded.used <= 1 RETURNING used;
UPDATE subsidies_application SET status = 'reserved' WHERE id = :app;
INSERT INTO subsidies_applicationevent (application_id, status, actor_id, at, note)
  VALUES (:app, 'reserved', :uid, now(), '额度已预留，等待审核') RETURNING id;
SELECT pg_advisory_xact_lock(1752719733, pg_backend_pid() % :chains);
SELECT seq AS last_seq, hash AS last_hash FROM (SELECT seq, hash FROM core_auditevent
  WHERE chain = pg_backend_pid() % :chains ORDER BY seq DESC LIMIT 1) last
  UNION ALL SELECT 0, repeat('0', 64) ORDER BY 1 DESC LIMIT 1 \gset
INSERT INTO core_auditevent (chain, seq, at, actor_id, actor_label, action, object_type, object_id, object_repr,
    changes, prev_hash, hash)
  VALUES (pg_backend_pid() % :chains, :last_seq + 1, now(), :uid, 'pgbench', 'subsidies.application_submitted',
    'subsidies.application', :app, 'BT', '{"amount_fen": 79980, "status": "reserved", "claims": ["invoice", "serial"]}',
    ':last_hash', encode(sha256(convert_to(':last_hash' || :app || 'submitted', 'UTF8')), 'hex'));
COMMIT;
