/*
 * A real Kafka wire-protocol broker for the tests: librdkafka's mock cluster on loopback ports.
 *
 *   mock-broker [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Prints "bootstrap <host:port,...>" once listening, then reads one command per line on stdin and
 * answers "ok" or "error <why>":
 *
 *   down <broker-id>                      the broker refuses connections
 *   up <broker-id>                        it accepts them again
 *   rtt <broker-id|-1> <ms>               adds round-trip delay
 *   errors <api-key> <count> <error-code> the next <count> requests of that API fail with the code
 *   topic <name> <partitions>             creates a topic
 *
 * Exits when stdin closes (or on a signal), so a test that dies takes its broker with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdkafka.h"
#include "rdkafka_mock.h"

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *spec) {
        char name[256];
        int partitions = 1;
        const char *colon = strrchr(spec, ':');
        size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
        if (len == 0 || len >= sizeof(name))
                return -1;
        memcpy(name, spec, len);
        name[len] = '\0';
        if (colon)
                partitions = atoi(colon + 1);
        if (partitions < 1)
                return -1;
        return rd_kafka_mock_topic_create(mc, name, partitions, 1) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR
                   ? 0
                   : -1;
}

static void answer(rd_kafka_resp_err_t err) {
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                printf("ok\n");
        else
                printf("error %s\n", rd_kafka_err2str(err));
        fflush(stdout);
}

static void run_command(rd_kafka_mock_cluster_t *mc, char *line) {
        char verb[32], name[256];
        int a, b, c;
        if (sscanf(line, "%31s", verb) != 1)
                return;
        if (strcmp(verb, "down") == 0 && sscanf(line, "%*s %d", &a) == 1) {
                answer(rd_kafka_mock_broker_set_down(mc, a));
        } else if (strcmp(verb, "up") == 0 && sscanf(line, "%*s %d", &a) == 1) {
                answer(rd_kafka_mock_broker_set_up(mc, a));
        } else if (strcmp(verb, "rtt") == 0 &&
                   sscanf(line, "%*s %d %d", &a, &b) == 2) {
                answer(rd_kafka_mock_broker_set_rtt(mc, a, b));
        } else if (strcmp(verb, "errors") == 0 &&
                   sscanf(line, "%*s %d %d %d", &a, &b, &c) == 3 && b > 0) {
                rd_kafka_resp_err_t *errors = calloc((size_t)b, sizeof(*errors));
                for (int i = 0; i < b; i++)
                        errors[i] = (rd_kafka_resp_err_t)c;
                rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, (size_t)b, errors);
                free(errors);
                answer(RD_KAFKA_RESP_ERR_NO_ERROR);
        } else if (strcmp(verb, "topic") == 0 &&
                   sscanf(line, "%*s %255s %d", name, &a) == 2 && a > 0) {
                answer(rd_kafka_mock_topic_create(mc, name, a, 1));
        } else {
                printf("error unknown command: %s", line);
                if (line[strlen(line) - 1] != '\n')
                        printf("\n");
                fflush(stdout);
        }
}

int main(int argc, char **argv) {
        int brokers = 1;
        char errstr[512];

        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        /* The handle only hosts the cluster; it never produces. */
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
                        brokers = atoi(argv[++i]);
        }
        if (brokers < 1) {
                fprintf(stderr, "--brokers must be at least 1\n");
                return 2;
        }

        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "rd_kafka_new: %s\n", errstr);
                return 1;
        }
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mc) {
                fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
                return 1;
        }
        /* A controller makes InitProducerId (idempotent producer) work; joins need no delay. */
        rd_kafka_mock_set_controller_id(mc, 1);
        rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
        /* kafkajs 2.2.4 cannot decode LeaveGroup v3+ replies. */
        rd_kafka_mock_set_apiversion(mc, 13, 0, 2);

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
                        if (create_topic(mc, argv[++i]) != 0) {
                                fprintf(stderr, "cannot create topic %s\n", argv[i]);
                                return 2;
                        }
                }
        }

        printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);

        char line[1024];
        while (fgets(line, sizeof(line), stdin))
                run_command(mc, line);

        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 0;
}
