/* The floor under any durable `schedule`: a fresh process that opens an existing WAL database,
 * commits one row with synchronous=FULL, prints its id and exits. Like httpat it skips the
 * checkpoint at close and folds the WAL back into the database once it is over 256 KiB, so
 * that both rebuild a WAL index of the same size on open. No command line to speak of, no
 * schema beyond one small table, nothing else. bench/run times it beside httpat and at(1).
 *
 * With --bulk N it is the floor under a bulk `schedule --file`: N rows of that small table
 * inserted with one prepared statement in one transaction, synchronous=FULL, one commit.
 *
 *   cc -O2 -o floor bench/floor.c -lsqlite3 && ./floor DB N
 *   ./floor DB --bulk 100000
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    if (argc != 3 && !(argc == 4 && strcmp(argv[2], "--bulk") == 0)) {
        fprintf(stderr, "usage: floor DB N | floor DB --bulk N\n");
        return 2;
    }
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "floor: cannot open %s\n", argv[1]);
        return 1;
    }
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (argc == 4) {
        int failed = bulk(db, atol(argv[3]));
        return sqlite3_close(db) == SQLITE_OK ? failed : 1;
    }
    snprintf(sql, sizeof sql, "PRAGMA synchronous = FULL; INSERT INTO t (at) VALUES (%ld);",
             atol(argv[2]));
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "floor: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    printf("%lld\n", sqlite3_last_insert_rowid(db));
    snprintf(wal, sizeof wal, "%s-wal", argv[1]);
    if (stat(wal, &st) == 0 && st.st_size > 256 * 1024) {
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    return sqlite3_close(db) == SQLITE_OK ? 0 : 1;
}
