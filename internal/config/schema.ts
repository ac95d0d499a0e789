import type { ApiKeyConfig, EmailRoute, ProviderName, SmtpAccount } from "./formats.ts";
import { PROVIDERS } from "./formats.ts";

const s = 1_000;
const m = 60 * s;
const h = 60 * m;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;

/**
 * The configuration schema: the shape of the seed's config.yaml plus the keys named in SPEC §8.
 * Durations are written as "5s"/"1h" and held as milliseconds. Every leaf has a doc string: the
 * README's configuration table is checked against this schema by a test.
 */
export function configSchema() {
  return {
    queue: {
      driver: {
        doc: "Queue backend: redis (Streams), kafka, or postgres (table queue; the embedded default).",
        format: ["redis", "kafka", "postgres"] as const,
        default: "postgres" as "redis" | "kafka" | "postgres",
        env: "QUEUE_DRIVER",
      },
      queue_name: {
        doc: "Base name of the queue: Redis stream/key prefix, Kafka topic prefix.",
        format: String,
        default: "email-jobs",
        env: "QUEUE_NAME",
      },
      batch_size: {
        doc: "Messages fetched per queue read.",
        format: "nat",
        default: 10,
        env: "QUEUE_BATCH_SIZE",
      },
      poll_interval: {
        doc: "How long a consumer waits for new messages before polling again.",
        format: "duration",
        default: 1 * s,
        env: "QUEUE_POLL_INTERVAL",
      },
      visibility_timeout: {
        doc: "A message claimed this long ago and not acknowledged is handed to another worker.",
        format: "duration",
        default: 1 * m,
        env: "QUEUE_VISIBILITY_TIMEOUT",
      },
      fair_share: {
        doc: "Share of each fetch offered to the lanes below critical in turn, so low priority still moves under constant urgent load.",
        format: Number,
        default: 0.1,
        env: "QUEUE_FAIR_SHARE",
      },
      promote_interval: {
        doc: "How often due scheduled and retry messages are moved onto their lanes (redis).",
        format: "duration",
        default: 250,
        env: "QUEUE_PROMOTE_INTERVAL",
      },
      redis: {
        url: {
          doc: "Redis URL (redis://[:password@]host:port/db); when set it wins over host/port/password/db.",
          format: String,
          default: "",
          env: "REDIS_URL",
          sensitive: true,
        },
        host: { doc: "Redis host.", format: String, default: "localhost", env: "REDIS_HOST" },
        port: { doc: "Redis port.", format: "port", default: 6379, env: "REDIS_PORT" },
        password: {
          doc: "Redis password.",
          format: String,
          default: "",
          env: "REDIS_PASSWORD",
          sensitive: true,
        },
        db: { doc: "Redis database number.", format: "nat", default: 0, env: "REDIS_DB" },
      },
      kafka: {
        brokers: {
          doc: "Kafka bootstrap brokers, comma-separated in the environment.",
          format: Array,
          default: ["localhost:9092"] as string[],
          env: "KAFKA_BROKERS",
        },
        client_id: {
          doc: "Kafka client id.",
          format: String,
          default: "email-worker",
          env: "KAFKA_CLIENT_ID",
        },
      },
    },
    database: {
      url: {
        doc: "PostgreSQL URL of the master; wins over master_* and the legacy host/port/name/user/password.",
        format: String,
        default: "",
        env: "DATABASE_URL",
        sensitive: true,
      },
      replica_url: {
        doc: "PostgreSQL URL of a read replica; wins over slave_*.",
        format: String,
        default: "",
        env: "DATABASE_REPLICA_URL",
        sensitive: true,
      },
      master_host: {
        doc: "Master host. Empty (with no url and no legacy host) means the embedded database.",
        format: String,
        default: "",
        env: "DB_MASTER_HOST",
      },
      master_port: { doc: "Master port.", format: "port", default: 5432, env: "DB_MASTER_PORT" },
      master_name: {
        doc: "Master database name.",
        format: String,
        default: "booking_system",
        env: "DB_MASTER_NAME",
      },
      master_user: { doc: "Master user.", format: String, default: "postgres", env: "DB_MASTER_USER" },
      master_password: {
        doc: "Master password.",
        format: String,
        default: "",
        env: "DB_MASTER_PASSWORD",
        sensitive: true,
      },
      slave_host: {
        doc: "Replica host; empty means no replica (reads go to the master).",
        format: String,
        default: "",
        env: "DB_SLAVE_HOST",
      },
      slave_port: { doc: "Replica port.", format: "port", default: 5433, env: "DB_SLAVE_PORT" },
      slave_name: {
        doc: "Replica database name; empty means the master's.",
        format: String,
        default: "",
        env: "DB_SLAVE_NAME",
      },
      slave_user: {
        doc: "Replica user; empty means the master's.",
        format: String,
        default: "",
        env: "DB_SLAVE_USER",
      },
      slave_password: {
        doc: "Replica password; empty means the master's.",
        format: String,
        default: "",
        env: "DB_SLAVE_PASSWORD",
        sensitive: true,
      },
      host: { doc: "Legacy single-database host.", format: String, default: "", env: "DB_HOST" },
      port: { doc: "Legacy single-database port.", format: "port", default: 5432, env: "DB_PORT" },
      name: {
        doc: "Legacy single-database name.",
        format: String,
        default: "email_worker",
        env: "DB_NAME",
      },
      user: { doc: "Legacy single-database user.", format: String, default: "postgres", env: "DB_USER" },
      password: {
        doc: "Legacy single-database password.",
        format: String,
        default: "",
        env: "DB_PASSWORD",
        sensitive: true,
      },
      ssl_mode: {
        doc: "libpq sslmode for master and replica.",
        format: SSL_MODES,
        default: "disable" as (typeof SSL_MODES)[number],
        env: "DB_SSL_MODE",
      },
      max_open_conns: {
        doc: "Pool size per database.",
        format: "nat",
        default: 25,
        env: "DB_MAX_OPEN_CONNS",
      },
      max_idle_conns: {
        doc: "Connections kept open when idle; idle ones beyond this close after idle_timeout.",
        format: "nat",
        default: 5,
        env: "DB_MAX_IDLE_CONNS",
      },
      conn_max_lifetime: {
        doc: "A pooled connection is closed and replaced after this long.",
        format: "duration",
        default: 5 * m,
        env: "DB_CONN_MAX_LIFETIME",
      },
      idle_timeout: {
        doc: "An idle connection beyond max_idle_conns is closed after this long.",
        format: "duration",
        default: 30 * s,
        env: "DB_IDLE_TIMEOUT",
      },
      connect_timeout: {
        doc: "Giving up on opening a connection after this long.",
        format: "duration",
        default: 5 * s,
        env: "DB_CONNECT_TIMEOUT",
      },
      query_timeout: {
        doc: "A statement running longer is cancelled (statement_timeout).",
        format: "duration",
        default: 30 * s,
        env: "DB_QUERY_TIMEOUT",
      },
      replica_retry_interval: {
        doc: "After the replica fails, reads use the master for this long before trying the replica again.",
        format: "duration",
        default: 5 * s,
        env: "DB_REPLICA_RETRY_INTERVAL",
      },
      auto_migrate: {
        doc: "Apply pending migrations at start-up (safe with many replicas: they take a lock).",
        format: Boolean,
        default: true,
        env: "DB_AUTO_MIGRATE",
      },
      embedded_dir: {
        doc: "Data directory of the embedded PGlite database, used when no PostgreSQL is configured.",
        format: String,
        default: "./data/pg",
        env: "DB_EMBEDDED_DIR",
      },
    },
    email: {
      default_provider: {
        doc: "Provider used when neither the job nor a route names one.",
        format: PROVIDERS,
        default: "outbox" as ProviderName,
        env: "EMAIL_DEFAULT_PROVIDER",
      },
      routes: {
        doc: "Routing rules by job type: a list of {job_type: glob, providers: [in order of failover]}; JSON in the environment.",
        format: "email-routes",
        default: [] as EmailRoute[],
        env: "EMAIL_ROUTES",
      },
      fallback_providers: {
        doc: "Providers tried in order after default_provider fails with a transient or configuration error (comma-separated in the environment).",
        format: Array,
        default: [] as string[],
        env: "EMAIL_FALLBACK_PROVIDERS",
      },
      circuit_breaker: {
        failure_threshold: {
          doc: "Consecutive transient or configuration failures that open a provider's circuit (it is skipped until half-open).",
          format: "nat",
          default: 5,
          env: "CIRCUIT_BREAKER_THRESHOLD",
        },
        half_open_after: {
          doc: "How long an open circuit waits before letting one trial send through.",
          format: "duration",
          default: 30 * s,
          env: "CIRCUIT_BREAKER_HALF_OPEN_AFTER",
        },
      },
      template_cache_ttl: {
        doc: "How long a template row is cached before it is read again (edits through the API apply at once).",
        format: "duration",
        default: 30 * s,
        env: "TEMPLATE_CACHE_TTL",
      },
      providers: {
        sendgrid: {
          rate_limit: {
            doc: "Messages per second to SendGrid across all replicas sharing Redis (per replica otherwise); 0 = no limit.",
            format: "nat",
            default: 0,
            env: "SENDGRID_RATE_LIMIT",
          },
          max_concurrency: {
            doc: "Sends in flight to SendGrid at once, across replicas sharing Redis (per replica otherwise); 0 = no limit.",
            format: "nat",
            default: 0,
            env: "SENDGRID_MAX_CONCURRENCY",
          },
          api_key: {
            doc: "SendGrid API key.",
            format: String,
            default: "",
            env: "SENDGRID_API_KEY",
            sensitive: true,
          },
          from_email: {
            doc: "Default sender address for SendGrid.",
            format: String,
            default: "",
            env: "SENDGRID_FROM_EMAIL",
          },
          from_name: {
            doc: "Default sender name for SendGrid.",
            format: String,
            default: "",
            env: "SENDGRID_FROM_NAME",
          },
          webhook_public_key: {
            doc: "Verification key of SendGrid's Signed Event Webhook (base64); set it to accept POST /webhooks/sendgrid.",
            format: String,
            default: "",
            env: "SENDGRID_WEBHOOK_PUBLIC_KEY",
          },
          base_url: {
            doc: "SendGrid API base URL (tests, proxies, EU residency).",
            format: String,
            default: "https://api.sendgrid.com",
            env: "SENDGRID_BASE_URL",
          },
          timeout: {
            doc: "Request timeout for SendGrid.",
            format: "duration",
            default: 10 * s,
            env: "SENDGRID_TIMEOUT",
          },
        },
        ses: {
          rate_limit: {
            doc: "Messages per second to SES across all replicas sharing Redis (per replica otherwise); 0 = no limit.",
            format: "nat",
            default: 0,
            env: "AWS_SES_RATE_LIMIT",
          },
          max_concurrency: {
            doc: "Sends in flight to SES at once, across replicas sharing Redis (per replica otherwise); 0 = no limit.",
            format: "nat",
            default: 0,
            env: "AWS_SES_MAX_CONCURRENCY",
          },
          region: { doc: "AWS SES region.", format: String, default: "us-east-1", env: "AWS_SES_REGION" },
          access_key: {
            doc: "AWS access key id; empty uses the default AWS credential chain.",
            format: String,
            default: "",
            env: "AWS_ACCESS_KEY_ID",
            sensitive: true,
          },
          secret_key: {
            doc: "AWS secret access key.",
            format: String,
            default: "",
            env: "AWS_SECRET_ACCESS_KEY",
            sensitive: true,
          },
          from_email: {
            doc: "Default sender address for SES.",
            format: String,
            default: "",
            env: "AWS_SES_FROM_EMAIL",
          },
          from_name: {
            doc: "Default sender name for SES.",
            format: String,
            default: "",
            env: "AWS_SES_FROM_NAME",
          },
          endpoint: {
            doc: "SES API endpoint override (tests, VPC endpoints).",
            format: String,
            default: "",
            env: "AWS_SES_ENDPOINT",
          },
          configuration_set: {
            doc: "SES configuration set attached to every message (event publishing).",
            format: String,
            default: "",
            env: "AWS_SES_CONFIGURATION_SET",
          },
        },
        smtp: {
          rate_limit: {
            doc: "Messages per second to SMTP across all replicas sharing Redis (per replica otherwise); 0 = no limit.",
            format: "nat",
            default: 0,
            env: "SMTP_RATE_LIMIT",
          },
          max_concurrency: {
            doc: "Sends in flight to SMTP at once, across replicas sharing Redis (per replica otherwise); 0 = no limit.",
            format: "nat",
            default: 0,
            env: "SMTP_MAX_CONCURRENCY",
          },
          host: { doc: "SMTP host.", format: String, default: "", env: "SMTP_HOST" },
          port: { doc: "SMTP port.", format: "port", default: 587, env: "SMTP_PORT" },
          username: { doc: "SMTP username.", format: String, default: "", env: "SMTP_USERNAME" },
          password: {
            doc: "SMTP password.",
            format: String,
            default: "",
            env: "SMTP_PASSWORD",
            sensitive: true,
          },
          use_tls: {
            doc: "Require TLS (STARTTLS on 587, implicit TLS on 465).",
            format: Boolean,
            default: true,
            env: "SMTP_USE_TLS",
          },
          from_email: {
            doc: "Default sender address for SMTP.",
            format: String,
            default: "",
            env: "SMTP_FROM_EMAIL",
          },
          from_name: {
            doc: "Default sender name for SMTP.",
            format: String,
            default: "",
            env: "SMTP_FROM_NAME",
          },
          pool_size: {
            doc: "Open SMTP connections per account.",
            format: "nat",
            default: 5,
            env: "SMTP_POOL_SIZE",
          },
          timeout: {
            doc: "Connection, greeting and socket timeout.",
            format: "duration",
            default: 30 * s,
            env: "SMTP_TIMEOUT",
          },
          accounts: {
            doc: "Several accounts on the same host, rotated round-robin: 'user:pass;user2:pass2' (seed 004's EMAIL_ACCOUNTS) or a YAML list with optional daily_limit.",
            format: "smtp-accounts",
            default: [] as SmtpAccount[],
            env: "EMAIL_ACCOUNTS",
            sensitive: true,
          },
        },
        outbox: {
          rate_limit: {
            doc: "Messages per second to the outbox across all replicas sharing Redis (per replica otherwise); 0 = no limit.",
            format: "nat",
            default: 0,
            env: "OUTBOX_RATE_LIMIT",
          },
          max_concurrency: {
            doc: "Sends in flight to the outbox at once, across replicas sharing Redis (per replica otherwise); 0 = no limit.",
            format: "nat",
            default: 0,
            env: "OUTBOX_MAX_CONCURRENCY",
          },
          dir: {
            doc: "Directory the outbox provider writes .eml files to.",
            format: String,
            default: "./data/outbox",
            env: "OUTBOX_DIR",
          },
          from_email: {
            doc: "Default sender address for the outbox.",
            format: String,
            default: "noreply@localhost",
            env: "OUTBOX_FROM_EMAIL",
          },
          from_name: {
            doc: "Default sender name for the outbox.",
            format: String,
            default: "email-worker",
            env: "OUTBOX_FROM_NAME",
          },
        },
      },
    },
    worker: {
      worker_count: {
        doc: "Jobs processed concurrently by one process.",
        format: "nat",
        default: 5,
        env: "WORKER_COUNT",
      },
      batch_size: {
        doc: "Jobs handed to the pool per fetch.",
        format: "nat",
        default: 10,
        env: "WORKER_BATCH_SIZE",
      },
      poll_interval: {
        doc: "Pause between fetches when the queue is empty.",
        format: "duration",
        default: 1 * s,
        env: "WORKER_POLL_INTERVAL",
      },
      max_retries: {
        doc: "Retries after the first attempt, unless the job says otherwise.",
        format: "nat",
        default: 3,
        env: "MAX_RETRIES",
      },
      retry_delay: {
        doc: "Base delay of the exponential backoff.",
        format: "duration",
        default: 5 * s,
        env: "WORKER_RETRY_DELAY",
      },
      retry_factor: {
        doc: "Backoff multiplier per attempt (3 with retry_delay 5m and retry_max_delay 1h gives 5m, 15m, 45m, 1h).",
        format: Number,
        default: 2,
        env: "WORKER_RETRY_FACTOR",
      },
      retry_jitter: {
        doc: "Each retry delay is shortened by a random part of this fraction (0 gives the exact schedule).",
        format: Number,
        default: 0.2,
        env: "WORKER_RETRY_JITTER",
      },
      retry_max_delay: {
        doc: "Longest delay between two attempts.",
        format: "duration",
        default: 1 * h,
        env: "WORKER_RETRY_MAX_DELAY",
      },
      process_timeout: {
        doc: "One job's render-and-send is abandoned (as a transient failure) after this long.",
        format: "duration",
        default: 30 * s,
        env: "WORKER_PROCESS_TIMEOUT",
      },
      cleanup_interval: {
        doc: "How often expired idempotency keys and old finished queue rows are removed.",
        format: "duration",
        default: 1 * h,
        env: "WORKER_CLEANUP_INTERVAL",
      },
      reconcile_interval: {
        doc: "How often tracked jobs whose queue message was lost are looked for and queued again.",
        format: "duration",
        default: 30 * s,
        env: "WORKER_RECONCILE_INTERVAL",
      },
      reconcile_grace: {
        doc: "How long a tracked job may look lost (unpublished, overdue retry, expired claim) before it is queued again.",
        format: "duration",
        default: 1 * m,
        env: "WORKER_RECONCILE_GRACE",
      },
      shutdown_timeout: {
        doc: "On SIGTERM, in-flight sends get this long to finish before they are abandoned.",
        format: "duration",
        default: 30 * s,
        env: "WORKER_SHUTDOWN_TIMEOUT",
      },
    },
    server: {
      port: { doc: "HTTP port (/health, /metrics, webhooks).", format: "port", default: 8080, env: "PORT" },
      grpc_port: { doc: "gRPC port.", format: "port", default: 50060, env: "GRPC_PORT" },
      tls_cert_file: {
        doc: "PEM certificate chain for gRPC over TLS; empty serves plaintext (behind a mesh or on a private network).",
        format: String,
        default: "",
        env: "GRPC_TLS_CERT_FILE",
      },
      tls_key_file: {
        doc: "PEM private key for gRPC over TLS.",
        format: String,
        default: "",
        env: "GRPC_TLS_KEY_FILE",
        sensitive: true,
      },
      tls_client_ca_file: {
        doc: "PEM CA bundle; when set, gRPC clients must present a certificate it signed (mTLS).",
        format: String,
        default: "",
        env: "GRPC_TLS_CLIENT_CA_FILE",
      },
      api_keys: {
        doc: "gRPC API keys: a list of {name, sha256 (hex of the key), scopes: [send, admin]}; JSON in the environment. Empty disables auth.",
        format: "api-keys",
        default: [] as ApiKeyConfig[],
        env: "API_KEYS",
        sensitive: true,
      },
    },
    logging: {
      level: {
        doc: "Log level.",
        format: LOG_LEVELS,
        default: "info" as (typeof LOG_LEVELS)[number],
        env: "LOG_LEVEL",
      },
      format: {
        doc: "json (one object per line) or pretty (human-readable, for a terminal).",
        format: ["json", "pretty"] as const,
        default: "json" as "json" | "pretty",
        env: "LOG_FORMAT",
      },
    },
    tracking: {
      open_tracking: {
        doc: "Job types (globs) whose HTML gets an open pixel; needs base_url and secret (comma-separated in the environment).",
        format: Array,
        default: [] as string[],
        env: "TRACKING_OPENS",
      },
      click_tracking: {
        doc: "Job types (globs) whose links go through signed click redirects; needs base_url and secret.",
        format: Array,
        default: [] as string[],
        env: "TRACKING_CLICKS",
      },
      unsubscribe: {
        doc: "Bulk job types (globs) that carry List-Unsubscribe and one-click unsubscribe (RFC 8058) headers; needs base_url and secret.",
        format: Array,
        default: [] as string[],
        env: "TRACKING_UNSUBSCRIBE",
      },
      ses_topic_arns: {
        doc: "SNS topics allowed to post SES events to /webhooks/ses (comma-separated in the environment); empty accepts any topic with a valid AWS signature.",
        format: Array,
        default: [] as string[],
        env: "SES_TOPIC_ARNS",
      },
      sns_certificate_host: {
        doc: "Regular expression for hosts allowed to serve SNS signing certificates.",
        format: String,
        default: "^sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?$",
        env: "SNS_CERTIFICATE_HOST",
      },
      webhook_max_age: {
        doc: "Signed webhooks older than this are refused, so a captured request cannot be replayed.",
        format: "duration",
        default: 5 * m,
        env: "WEBHOOK_MAX_AGE",
      },
      base_url: {
        doc: "Public base URL of this service, used in open-pixel and click-redirect links.",
        format: String,
        default: "",
        env: "TRACKING_BASE_URL",
      },
      secret: {
        doc: "Key signing tracking links.",
        format: String,
        default: "",
        env: "TRACKING_SECRET",
        sensitive: true,
      },
    },
  };
}
