/* The floor under any durable `schedule`: a fresh process that opens an existing WAL database,
 * commits one row with synchronous=FULL, prints its id and exits. Like httpat it skips the
 * checkpoint at close and folds the WAL back into the database once it is over 256 KiB, so
 * that both rebuild a WAL index of the same size on open. No command line to speak of, no
 * schema beyond one small table, nothing else. bench/run times it beside httpat and at(1).
 *
 *   cc -O2 -o floor bench/floor.c -lsqlite3 && ./floor DB N
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
    sqlite3 *db;
    char sql[128], wal[4096];
    struct stat st;
    if (argc != 3) {
        fprintf(stderr, "usage: floor DB N\n");
        return 2;
    }
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "floor: cannot open %s\n", argv[1]);
        return 1;
    }
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
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
