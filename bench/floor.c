/* The floor under any durable `schedule`: a fresh process that opens an existing WAL database,
 * commits one row with synchronous=FULL, prints its id and exits. Like httpat it skips the
 * checkpoint at close and folds the WAL back into the database once it is over 256 KiB, so
 * that both rebuild a WAL index of the same size on open. No command line to speak of, no
 * schema beyond one small table, nothing else. bench/run times it beside httpat and at(1).
 *
 * With --bulk N it is the floor under a bulk `schedule --file`: N rows of that small table
 * inserted with one prepared statement in one transaction, synchronous=FULL, one commit.
 *
 * With --task and --bulk-tasks it writes into a database that httpat made what `schedule` writes
 * there for a task (its row, its `created` transition, the kept count), and nothing else: no
 * command line, no checks, no endpoint read, prepared statements. It tells how much of httpat's
 * time is its schema's, in SQLite, and how much is its own. --bulk-task-rows writes the task
 * rows alone (no transitions); bench/run points it at a tasks table without its indexes, the
 * least that N tasks of these columns cost.
 *
 *   cc -O2 -o floor bench/floor.c -lsqlite3 && ./floor DB N
 *   ./floor DB --bulk 100000
 *   ./floor HTTPAT_DB --task N
 *   ./floor HTTPAT_DB --bulk-tasks 100000
 *   ./floor HTTPAT_DB --bulk-task-rows 100000
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(sqlite3 *db) {
    fprintf(stderr, "floor: %s\n", sqlite3_errmsg(db));
    return 1;
}

/* N tasks as `schedule` stores them, in one transaction: each task's row (the next id, as httpat
 * gives it), its `created` transition (unless `rows_only`), and the kept count of waiting tasks
 * once at the end. */
static int tasks(sqlite3 *db, long n, long first_roll, int rows_only) {
    sqlite3_stmt *next, *task, *created, *counted;
    sqlite3_int64 id, now = 1796000000000;
    char args[64];
    if (sqlite3_exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; BEGIN IMMEDIATE;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT max(high, (SELECT coalesce(max(id), 0) FROM tasks)) + 1 "
                           "FROM id_marks WHERE name = 'tasks'",
                           -1, &next, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO tasks (id, endpoint, args, priority, agent, created_at, "
                           "due_at, next_attempt_at) VALUES (?1, 'bench', ?2, 0, 'bench', ?3, ?4, ?4)",
                           -1, &task, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO transitions (task_id, at, from_state, to_state, actor, "
                           "detail) VALUES (?1, ?2, NULL, 'scheduled', 'user:bench', 'created')",
                           -1, &created, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE task_counts SET n = n + ?1 WHERE phase = 'waiting'", -1,
                           &counted, NULL) != SQLITE_OK) {
        return fail(db);
    }
    if (sqlite3_step(next) != SQLITE_ROW) return fail(db);
    id = sqlite3_column_int64(next, 0);
    sqlite3_finalize(next);
    for (long i = 0; i < n; i++, id++) {
        snprintf(args, sizeof args, "{\"roll\":\"B%ld\"}", first_roll + i);
        sqlite3_bind_int64(task, 1, id);
        sqlite3_bind_text(task, 2, args, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(task, 3, now);
        sqlite3_bind_int64(task, 4, now + 129600000);
        sqlite3_bind_int64(created, 1, id);
        sqlite3_bind_int64(created, 2, now);
        if (sqlite3_step(task) != SQLITE_DONE ||
            (!rows_only && sqlite3_step(created) != SQLITE_DONE)) {
            return fail(db);
        }
        sqlite3_reset(task);
        sqlite3_reset(created);
    }
    sqlite3_bind_int64(counted, 1, n);
    if (sqlite3_step(counted) != SQLITE_DONE) return fail(db);
    sqlite3_finalize(task);
    sqlite3_finalize(created);
    sqlite3_finalize(counted);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return fail(db);
    printf("%lld\n", id - 1);
    return 0;
}

/* N rows in one transaction, one prepared statement: what a bulk insert costs at least. */
static int bulk(sqlite3 *db, long n) {
    sqlite3_stmt *insert;
    if (sqlite3_exec(db, "PRAGMA synchronous = FULL; BEGIN IMMEDIATE;", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO t (at) VALUES (?1)", -1, &insert, NULL) != SQLITE_OK) {
        fprintf(stderr, "floor: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    for (long i = 0; i < n; i++) {
        sqlite3_bind_int64(insert, 1, i);
        if (sqlite3_step(insert) != SQLITE_DONE) {
            fprintf(stderr, "floor: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "floor: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    printf("%ld\n", n);
    return 0;
}

int main(int argc, char **argv) {
    sqlite3 *db;
    char sql[128], wal[4096];
    struct stat st;
    int bulk_rows = argc == 4 && strcmp(argv[2], "--bulk") == 0;
    int one_task = argc == 4 && strcmp(argv[2], "--task") == 0;
    int bulk_tasks = argc == 4 && strcmp(argv[2], "--bulk-tasks") == 0;
    int bulk_task_rows = argc == 4 && strcmp(argv[2], "--bulk-task-rows") == 0;
    if (argc != 3 && !bulk_rows && !one_task && !bulk_tasks && !bulk_task_rows) {
        fprintf(stderr, "usage: floor DB N | floor DB --bulk N | floor HTTPAT_DB --task N | "
                        "floor HTTPAT_DB --bulk-tasks N | floor HTTPAT_DB --bulk-task-rows N\n");
        return 2;
    }
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "floor: cannot open %s\n", argv[1]);
        return 1;
    }
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (bulk_rows || bulk_tasks || bulk_task_rows) {
        int failed = bulk_rows ? bulk(db, atol(argv[3])) : tasks(db, atol(argv[3]), 0, bulk_task_rows);
        return sqlite3_close(db) == SQLITE_OK ? failed : 1;
    }
    if (one_task) {
        if (tasks(db, 1, atol(argv[3]), 0) != 0) return 1;
    } else {
        snprintf(sql, sizeof sql, "PRAGMA synchronous = FULL; INSERT INTO t (at) VALUES (%ld);",
                 atol(argv[2]));
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return fail(db);
        printf("%lld\n", sqlite3_last_insert_rowid(db));
    }
    snprintf(wal, sizeof wal, "%s-wal", argv[1]);
    if (stat(wal, &st) == 0 && st.st_size > 256 * 1024) {
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    return sqlite3_close(db) == SQLITE_OK ? 0 : 1;
}
