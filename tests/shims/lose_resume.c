/* Preloaded into a daemon by a test: makes librdkafka lose one resume of one partition,
 * as librdkafka itself can (a pause that outlives an assignment, a resume that loses to
 * a fetcher start). The partition then stays assigned and unfetched, which is the stall
 * the consumer must notice by itself (consumer/fetch_stall.hpp).
 *
 * LOSE_RESUME_PARTITION=<topic>:<partition> names the partition; LOSE_RESUME_FILE names
 * a file the test creates when the next resume of it is to be lost. The first resume
 * that includes the partition after that removes the file (so exactly one is lost, in
 * whichever process gets there first) and resumes the other partitions of the call. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef rd_kafka_resp_err_t (*resume_fn)(rd_kafka_t *, rd_kafka_topic_partition_list_t *);

rd_kafka_resp_err_t rd_kafka_resume_partitions(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *partitions) {
        resume_fn real = (resume_fn)dlsym(RTLD_NEXT, "rd_kafka_resume_partitions");
        const char *which = getenv("LOSE_RESUME_PARTITION");
        const char *file = getenv("LOSE_RESUME_FILE");
        const char *colon = which != NULL ? strrchr(which, ':') : NULL;
        if (colon == NULL || file == NULL) return real(rk, partitions);
        const size_t topic_len = (size_t)(colon - which);
        const int partition = atoi(colon + 1);
        int hit = -1;
        for (int i = 0; i < partitions->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &partitions->elems[i];
                if (p->partition == partition && strlen(p->topic) == topic_len && strncmp(p->topic, which, topic_len) == 0)
                        hit = i;
        }
        if (hit < 0 || unlink(file) != 0) return real(rk, partitions);
        rd_kafka_topic_partition_list_t *rest = rd_kafka_topic_partition_list_new(partitions->cnt);
        for (int i = 0; i < partitions->cnt; i++) {
                if (i != hit) rd_kafka_topic_partition_list_add(rest, partitions->elems[i].topic, partitions->elems[i].partition);
        }
        rd_kafka_resp_err_t err = rest->cnt > 0 ? real(rk, rest) : RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_topic_partition_list_destroy(rest);
        return err;
}
