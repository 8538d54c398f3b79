//! Every command-line definition of httpat. Help text is written here once: man pages and
//! shell completions are generated from these types.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// at(1) for HTTP requests: schedule a request to a registered endpoint, and let
/// `httpat tick` (run by cron every minute) send it when its time comes.
#[derive(Debug, Parser)]
#[command(name = "httpat", version, about, long_about = None, after_long_help = MAIN_EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

const MAIN_EXAMPLES: &str = "\
Examples:
  httpat register release-roll --url 'https://ims.example/rolls/{roll}/release/' \\
      --header 'Authorization: Bearer ${IMS_TOKEN}'
  httpat schedule release-roll --in 36h --arg roll=CCT-0042
  httpat list --state due,retrying
  * * * * *  httpat tick        (crontab line: send what is due, every minute)";

/// The heading under which `--help` lists the options every subcommand takes.
const GLOBAL: &str = "Global options";

/// Options accepted by every subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// The database: an SQLite file, or a postgres:// URL [default:
    /// $XDG_DATA_HOME/httpat/httpat.db, else ~/.local/share/httpat/httpat.db]
    #[arg(long, global = true, help_heading = GLOBAL, env = "HTTPAT_DB", value_name = "PATH|URL")]
    pub db: Option<PathBuf>,

    /// Where errors are written in full [default: httpat.log beside an SQLite database, else
    /// $XDG_STATE_HOME/httpat/httpat.log]
    #[arg(long, global = true, help_heading = GLOBAL, env = "HTTPAT_LOG", value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Say more on stderr (repeat for more)
    #[arg(short, long, global = true, help_heading = GLOBAL, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Say less on stderr: errors only
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,

    /// Machine-readable output: one JSON document with stable field names
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Show times in UTC instead of the local zone (stored times are always UTC)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub utc: bool,
}

/// Each subcommand's options are defined only when it is the one being run (or when help, man
/// pages or completions need them all): a short command does not build the other twelve.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create or update an endpoint: a named HTTP request that tasks are scheduled against.
    ///
    /// Prints `created`, `updated: FIELD, ...` or `unchanged`. When updating, options not given keep
    /// their current values; `--header` given at all replaces the whole set of headers.
    Register(RegisterArgs),
    /// List registered endpoints: name, method, URL, timeout, attempts, deprecated, tasks waiting.
    Endpoints(EndpointsArgs),
    /// Store one request to be sent at a given time; prints its id alone on stdout.
    ///
    /// TIME is RFC 3339 with an offset (`2026-11-27T08:00:00+02:00`), `YYYY-MM-DD HH:MM[:SS]` in the
    /// local zone (or `--tz`), `now`, or `+DURATION`. DURATION is `36h`, `1d 12h`, `90m`. A time in
    /// the past is accepted (the next tick sends it) with a warning.
    Schedule(ScheduleArgs),
    /// Tasks as a table: id, endpoint, state, when, attempts, last result, agent.
    ///
    /// STATE is one or more of scheduled, due, running, retrying, succeeded, failed, cancelled,
    /// comma-separated. Tasks are listed in the order they fall due (their next attempt time).
    /// WHEN is when an unfinished task will be sent (its next attempt, for one that is retrying),
    /// and when a finished one ended.
    List(ListArgs),
    /// One task whole: its request, arguments, times, state, every attempt and every transition.
    Show(ShowArgs),
    /// Cancel tasks that have not started. Cancelling a cancelled task is fine; a running or
    /// finished one is refused.
    Cancel(CancelArgs),
    /// Put failed or cancelled tasks back to wait, with a fresh attempt budget; their history stays.
    ///
    /// Without --at a task is due at the time it was scheduled for, or now if that has passed: a
    /// retry never makes a task earlier than it was scheduled. `--endpoint NAME` retries every
    /// failed task of an endpoint (that failed after `--after TIME`), for the morning after an
    /// outage. All or none.
    Retry(RetryArgs),
    /// Send the requests whose time has come, record every response, and exit. Run it from cron
    /// every minute.
    ///
    /// Silent on success; one line on stderr per task that failed for good or was cancelled by
    /// the executor, so cron's mail reaches the operator. Exit 0 whenever the tick did its work,
    /// whatever the tasks' outcomes; 1 when the database could not be used.
    Tick(TickArgs),
    /// Is the executor alive? The last ticks, tasks per state, the oldest due task and how late it is.
    ///
    /// Warns when tasks are due and no tick has ended in the last 3 minutes (cron not running, a tick
    /// stuck).
    Status(StatusArgs),
    /// Print the Prometheus text exposition format: tasks per state, how late the oldest due task
    /// is, tasks waiting on a limit, the last tick's end and duration, attempts per endpoint and
    /// outcome.
    ///
    /// Every figure comes from counts the database keeps, so it costs the same at a million
    /// tasks as at ten. `httpat_attempts_total` is kept in the database: it never decreases, not
    /// even after `prune`. `tick --metrics-file` writes the same at the end of every tick.
    Metrics(MetricsArgs),
    /// Create or update a recurring schedule: each firing of a cron expression makes one ordinary
    /// task. Or pause, resume or delete one.
    ///
    /// EXPR has 5 fields (minute hour day-of-month month day-of-week) or is @hourly, @daily, @weekly,
    /// @monthly; it is read in ZONE, stored by name, so a DST change moves with it. A wall time that
    /// does not exist that day fires once at the next minute that does; a repeated one fires once.
    /// Expressions whose hour field is `*` follow real time through a change instead. After
    /// downtime a schedule fires once, for its latest missed time. Prints `created`,
    /// `updated: FIELD, ...` or `unchanged`.
    Recur(RecurArgs),
    /// List recurring schedules: name, endpoint, cron, zone, next firing, last firing and the state
    /// of the task it made, paused.
    Recurring(RecurringArgs),
    /// Delete finished tasks (succeeded, failed, cancelled) that finished before the cutoff, with
    /// their attempts and history, and old tick records. Unfinished tasks are never touched.
    Prune(PruneArgs),
    /// Copy everything into an empty database of either backend, ids kept, in one transaction.
    ///
    /// Endpoints, tasks in every state with their attempts and history, schedules and tick
    /// records go to DB (a file path or a postgres:// URL); the source is left as it was. A DB
    /// that holds anything, or a source with running tasks, is refused. The way from one host's
    /// SQLite to PostgreSQL, and back.
    Transfer(TransferArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
#[command(after_long_help = REGISTER_EXAMPLES)]
pub struct RegisterArgs {
    /// Endpoint name: letters, digits, `-`, `_` and `.`
    #[arg(required_unless_present = "file")]
    pub name: Option<String>,

    /// Make the registry match a TOML file of endpoints (`-` for stdin), in one transaction, all
    /// or nothing
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "url", "method", "headers", "timeout", "max_attempts", "success", "description", "deprecate", "undeprecate", "ca_file", "client_cert", "client_key", "signing_secrets", "no_signing", "max_in_flight", "rate", "on_failure", "on_success"])]
    pub file: Option<PathBuf>,

    /// With --file: remove endpoints the file does not name (refused for one with unfinished
    /// tasks unless it is deprecated first)
    #[arg(long, requires = "file")]
    pub prune: bool,

    /// Apply a new URL even though waiting tasks lack a placeholder it adds: the executor will
    /// cancel those tasks when their time comes. Without it such a change is refused (exit 3),
    /// naming them
    #[arg(long)]
    pub force: bool,

    /// Refuse new schedules to this endpoint; what is already scheduled still runs
    #[arg(long, conflicts_with = "undeprecate")]
    pub deprecate: bool,

    /// Why it is deprecated, shown to whoever tries to schedule to it
    #[arg(long, value_name = "TEXT", requires = "deprecate")]
    pub reason: Option<String>,

    /// Accept new schedules to a deprecated endpoint again
    #[arg(long)]
    pub undeprecate: bool,

    /// URL, with `{name}` placeholders filled (percent-encoded) from each task's arguments.
    /// Required when the endpoint is created
    #[arg(long)]
    pub url: Option<String>,

    /// HTTP method [default: POST]
    #[arg(long)]
    pub method: Option<String>,

    /// A request header, `Name: value`; repeatable. `${VAR}` in the value is read from the
    /// environment of the tick that sends the request: the secret itself is never stored
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,

    /// How long one attempt may take, e.g. `30s`, `2m` [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Attempts before a task fails for good [default: 5]
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,

    /// Statuses that count as success: `2xx`, `409`, comma-separated [default: 2xx]
    #[arg(long, value_name = "LIST")]
    pub success: Option<String>,

    /// Free text shown by `endpoints --json` and `show`
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// Trust the CA certificates of this PEM file too, beside the system's trust store (a
    /// private CA). The path is stored and the file read when a request is sent; `none` removes
    /// it
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<String>,

    /// Present this PEM client certificate (mutual TLS); goes with --client-key. Read when a
    /// request is sent, so a renewed certificate needs no new registration; `none` removes it
    #[arg(long, value_name = "PATH")]
    pub client_cert: Option<String>,

    /// The unencrypted PEM private key of --client-cert. Read when a request is sent; `none`
    /// removes it
    #[arg(long, value_name = "PATH")]
    pub client_key: Option<String>,

    /// Sign every request as Standard Webhooks specifies (webhook-id, webhook-timestamp,
    /// webhook-signature), with the secret in this variable: only ever '${VAR}', read by the
    /// tick when it sends (its base64, with or without `whsec_`). Repeatable, one signature per
    /// secret, so that keys rotate without downtime; given at all, replaces the list
    #[arg(
        long = "signing-secret",
        value_name = "'${VAR}'",
        conflicts_with = "no_signing"
    )]
    pub signing_secrets: Vec<String>,

    /// Stop signing this endpoint's requests
    #[arg(long)]
    pub no_signing: bool,

    /// At most N requests to this endpoint in flight at once, counted across every tick on
    /// every host; `none` lifts the limit. Tasks held back stay due, in their order, and a tick
    /// sends them as slots free while its --max-runtime allows
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<String>,

    /// At most N requests to this endpoint started in any second, minute or hour (`10/s`,
    /// `600/m`, `1000/h`), counted across every tick on every host; `none` lifts the limit. A
    /// backlog drains at this pace, not once a minute
    #[arg(long, value_name = "N/s|N/m|N/h")]
    pub rate: Option<String>,

    /// When a task of this endpoint fails for good or is cancelled by the executor, schedule
    /// one task to endpoint OTHER, due at once, whose arguments say what happened (key
    /// `on-failure:ID`); `none` stops it. OTHER must be registered
    #[arg(long, value_name = "OTHER")]
    pub on_failure: Option<String>,

    /// When a task of this endpoint succeeds, schedule one task to endpoint OTHER, due at
    /// once (key `on-success:ID`); `none` stops it
    #[arg(long, value_name = "OTHER")]
    pub on_success: Option<String>,
}

const REGISTER_EXAMPLES: &str = "\
Examples:
  # The factory's release of a cooled roll (the token is read when the request is sent):
  httpat register release-roll --url 'https://ims.example/rolls/{roll}/release/' \\
      --header 'Authorization: Bearer ${IMS_TOKEN}' --timeout 10s --success 2xx,409

  # Change only the timeout:
  httpat register release-roll --timeout 20s

  # A server with a certificate from the factory's own CA, that asks for a client certificate:
  httpat register release-roll --ca-file /etc/httpat/factory-ca.pem \\
      --client-cert /etc/httpat/client.pem --client-key /etc/httpat/client.key

  # Sign every request, and never send more than 2 at once or 10 a second (any tick, any host):
  httpat register release-roll --signing-secret '${IMS_SIGNING_SECRET}' \\
      --max-in-flight 2 --rate 10/s

  # A new URL that needs an argument the waiting tasks lack is refused; either keep their
  # request (a new endpoint, and the old one deprecated)...
  httpat register release-roll-v2 --url 'https://ims.example/lines/{line}/rolls/{roll}/release/'
  httpat register release-roll --deprecate --reason 'use release-roll-v2'
  # ... or let the executor cancel them when their time comes:
  httpat register release-roll --url 'https://ims.example/lines/{line}/rolls/{roll}/release/' --force

  # Make the registry match a file (see examples/endpoints.toml):
  httpat register --file endpoints.toml --prune";

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat endpoints\n  httpat endpoints --json | jq -r '.[] | select(.deprecated) | .name'"
)]
pub struct EndpointsArgs {}

#[derive(Debug, Args)]
#[command(after_long_help = SCHEDULE_EXAMPLES)]
pub struct ScheduleArgs {
    /// The registered endpoint to call
    #[arg(required_unless_present = "file")]
    pub endpoint: Option<String>,

    /// Read tasks from a JSON Lines file (`-` for stdin), one per line, with the fields
    /// endpoint, at or in, args, key, priority, max_attempts, agent, tz; all are stored, or none
    #[arg(long, value_name = "FILE", conflicts_with_all = ["endpoint", "at", "in_", "args", "args_json", "key", "priority", "max_attempts", "agent", "tz"])]
    pub file: Option<PathBuf>,

    /// When to send: RFC 3339, `YYYY-MM-DD HH:MM[:SS]`, `now` or `+36h`
    #[arg(long, value_name = "TIME", conflicts_with = "in_", required_unless_present_any = ["in_", "file"])]
    pub at: Option<String>,

    /// How long from now to send, e.g. `36h`, `1d 12h`, `90m`
    #[arg(
        long = "in",
        id = "in_",
        value_name = "DURATION",
        allow_hyphen_values = true
    )]
    pub in_: Option<String>,

    /// The zone of a local `--at` time (IANA name, e.g. `Europe/Riga`) [default: local zone]
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    #[command(flatten)]
    pub task: TaskOptions,

    /// Idempotency key: scheduling again with the same key, endpoint and arguments prints the
    /// existing task's id and changes nothing
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,

    /// Who asked for it [default: $USER]
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
}

const SCHEDULE_EXAMPLES: &str = "\
Examples:
  # A roll must cool for 36 hours before it is released; safe to run again:
  id=$(httpat schedule release-roll --in 36h --arg roll=CCT-0042 --key cool:CCT-0042)

  # At a wall-clock time in a named zone:
  httpat schedule release-roll --at '2026-11-27 08:00' --tz Europe/Riga --arg roll=CCT-0043

  # Arguments as JSON:
  httpat schedule export --at +1h --args '{\"day\": \"2026-11-25\", \"full\": true}'

  # Many at once, all or none (one id per line, in input order):
  printf '%s\\n' '{\"endpoint\": \"release-roll\", \"in\": \"36h\", \"args\": {\"roll\": \"CCT-0044\"}}' |
      httpat schedule --file -";

// What a task carries besides its endpoint and time: `schedule` and `recur` share these. (A
// plain comment: the doc comment of a flattened struct would become the subcommand's about.)
#[derive(Debug, Args)]
pub struct TaskOptions {
    /// An argument, `KEY=VALUE` (a string); repeatable. Fills URL placeholders; the rest goes
    /// into the JSON body (POST, PUT, PATCH) or the query string (GET, HEAD, DELETE)
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,

    /// Arguments as one JSON object; `--arg` values are added to it
    #[arg(long = "args", value_name = "JSON")]
    pub args_json: Option<String>,

    /// When more is due than a tick can send at once, a higher number goes first [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i64>,

    /// Attempts before the task fails for good [default: the endpoint's]
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Args)]
#[command(after_long_help = LIST_EXAMPLES)]
pub struct ListArgs {
    /// Only tasks in these states, e.g. `due,retrying`
    #[arg(long, value_name = "STATE,...")]
    pub state: Option<String>,

    /// Only tasks to this endpoint
    #[arg(long, value_name = "NAME")]
    pub endpoint: Option<String>,

    /// Only tasks scheduled by this agent
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,

    /// Only the task with this idempotency key
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,

    /// Only tasks made by this recurring schedule
    #[arg(long, value_name = "NAME")]
    pub schedule: Option<String>,

    /// Only tasks due before this time
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,

    /// Only tasks due at or after this time
    #[arg(long, value_name = "TIME")]
    pub after: Option<String>,

    /// At most this many rows
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

const LIST_EXAMPLES: &str = "\
Examples:
  httpat list                                # the first 50 tasks by due time
  httpat list --state failed,cancelled       # what needs a look
  httpat list --endpoint release-roll --after now --limit 10";

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat show 42\n  httpat show 42 --json | jq '.attempts[-1].status'\n  httpat show 42 --body > export.csv"
)]
pub struct ShowArgs {
    /// The task's id
    pub id: i64,

    /// Write only the last stored response body (of the latest attempt that got a response) to
    /// standard output, byte for byte, binary included, nothing added; exit 3 when no attempt
    /// has one. With --json: one document with the body in base64
    #[arg(long)]
    pub body: bool,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat cancel 42 --reason 'roll moved by hand'\n  httpat cancel --key cool:CCT-0042"
)]
pub struct CancelArgs {
    /// The tasks' ids
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    pub ids: Vec<i64>,

    /// Cancel the task with this idempotency key instead
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,

    /// Why, kept in the task's history
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat tick                      # from cron: * * * * *\n  httpat tick --follow             # from cron: * * * * *, each task within a second of its time\n  httpat tick --dry-run            # what would be sent now\n  httpat tick -v --concurrency 4   # with a summary line"
)]
pub struct TickArgs {
    /// Requests in flight at once
    #[arg(long, default_value_t = 16)]
    pub concurrency: u32,

    /// Stop claiming tasks when the next ones could not finish within this time [default: 50s;
    /// 60s with --follow, which starts requests until then and lets them finish after]
    #[arg(long, value_name = "DURATION")]
    pub max_runtime: Option<String>,

    /// Stay until --max-runtime ends, sending each task when its time comes, tasks scheduled
    /// meanwhile included (with cron starting one each minute, a task is sent within a second of
    /// its time); sleeps between, woken by new work
    #[arg(long, conflicts_with = "dry_run")]
    pub follow: bool,

    /// Send at most this many requests
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,

    /// Print what would be sent (secrets masked) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// At the end of the tick, write `httpat metrics` to this file atomically (a temporary
    /// file in the same folder, then a rename), for node_exporter's textfile collector
    #[arg(long, value_name = "PATH", conflicts_with = "dry_run")]
    pub metrics_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_long_help = RETRY_EXAMPLES)]
pub struct RetryArgs {
    /// The tasks' ids
    #[arg(required_unless_present = "endpoint", conflicts_with = "endpoint")]
    pub ids: Vec<i64>,

    /// Retry every failed task of this endpoint instead
    #[arg(long, value_name = "NAME")]
    pub endpoint: Option<String>,

    /// With --endpoint: only the tasks that failed after this time
    #[arg(long, value_name = "TIME", requires = "endpoint")]
    pub after: Option<String>,

    /// When to send them [default: when each was scheduled for, or now if that has passed];
    /// never before the time a task was scheduled for
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// The zone of a local `--at` time [default: local zone]
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

const RETRY_EXAMPLES: &str = "\
Examples:
  httpat retry 42                    # due when it was scheduled for, or now if that has passed
  httpat retry 42 43 --at +1h
  # The morning after an outage: every task of the endpoint that failed since 02:00.
  httpat retry --endpoint release-roll --after '2026-11-26 02:00'";

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat status\n  httpat status --check || alert 'httpat is not sending'   # for monitoring"
)]
pub struct StatusArgs {
    /// Exit 3 when tasks are due and no tick has ended in the last 3 minutes
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat metrics\n  httpat metrics | promtool check metrics\n  httpat tick --metrics-file /var/lib/node_exporter/textfile/httpat.prom   (crontab)"
)]
pub struct MetricsArgs {}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat prune --older-than 90d --dry-run\n  17 4 * * *  httpat prune --older-than 90d     (crontab: daily)"
)]
pub struct PruneArgs {
    /// How old a finished task must be, e.g. `90d`
    #[arg(long, value_name = "DURATION")]
    pub older_than: String,

    /// Count what would be deleted; delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
#[command(after_long_help = RECUR_EXAMPLES)]
pub struct RecurArgs {
    /// The schedule's name
    pub name: String,

    /// The endpoint each firing calls
    #[arg(required_unless_present_any = ["pause", "resume", "delete", "until"], requires = "cron")]
    pub endpoint: Option<String>,

    /// When to fire: a 5-field cron expression or @hourly, @daily, @weekly, @monthly
    #[arg(long, value_name = "EXPR", required_unless_present_any = ["pause", "resume", "delete", "until"], requires = "endpoint")]
    pub cron: Option<String>,

    /// The zone EXPR is read in (IANA name, e.g. `Europe/Riga`), and a local --until TIME
    /// [default: the local zone]
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// No firing after TIME (a firing missed before it may still be made up once); `none`
    /// lifts it. TIME as `schedule --at` takes it: RFC 3339, 'YYYY-MM-DD HH:MM[:SS]' in the
    /// local zone or --tz, now, +36h. Alone (`recur NAME --until TIME`) it changes only the end
    /// of an existing schedule; not given, the end stays as it is
    #[arg(long, value_name = "TIME", conflicts_with_all = ["pause", "resume", "delete"])]
    pub until: Option<String>,

    /// What every task it makes carries
    #[command(flatten)]
    pub task: TaskOptions,

    /// Stop firing until --resume
    #[arg(long, conflicts_with_all = ["resume", "delete", "endpoint", "cron"])]
    pub pause: bool,

    /// Fire again, from the next future time (missed firings are not made up)
    #[arg(long, conflicts_with_all = ["delete", "endpoint", "cron"])]
    pub resume: bool,

    /// Delete the schedule; the tasks it made stay
    #[arg(long, conflicts_with_all = ["endpoint", "cron"])]
    pub delete: bool,
}

const RECUR_EXAMPLES: &str = "\
Examples:
  # Every day at 06:00 Riga time, start the export of the day before:
  httpat recur daily-export daily-export --cron '0 6 * * *' --tz Europe/Riga --arg scope=yesterday

  # Every 15 minutes:
  httpat recur poll-line-3 shift-reminder --cron '*/15 * * * *' --arg channel=line-3

  # Every hour until the end of the year, Riga time:
  httpat recur line-3-audit shift-reminder --cron '@hourly' --until '2026-12-31 23:59' --tz Europe/Riga

  httpat recur line-3-audit --until +36h
  httpat recur line-3-audit --until none
  httpat recur daily-export --pause
  httpat recur daily-export --resume
  httpat recur daily-export --delete";

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:\n  httpat recurring\n  httpat recurring --json --utc")]
pub struct RecurringArgs {}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat transfer --to 'postgres://httpat@db.factory.local/ims?sslmode=require'\n  httpat --db postgres://httpat@db/ims transfer --to /var/lib/httpat/httpat.db"
)]
pub struct TransferArgs {
    /// The database to copy into: a file path (SQLite) or a postgres:// URL; it must be empty
    #[arg(long, value_name = "DB")]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  httpat completions bash > ~/.local/share/bash-completion/completions/httpat\n  httpat completions zsh > ~/.zfunc/_httpat\n  httpat completions fish > ~/.config/fish/completions/httpat.fish"
)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: clap_complete::Shell,
}
