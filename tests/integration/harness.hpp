// Test harness: the dev broker and the sluice daemon as real processes, a real
// producer, the recorder plugin's outcome logs, and the oracle (I1-I5), each in a part
// of its own under harness/.
#pragma once

#include "harness/admin_client.hpp"
#include "harness/config_text.hpp"
#include "harness/files.hpp"
#include "harness/kafka_clients.hpp"
#include "harness/oracle.hpp"
#include "harness/processes.hpp"
#include "harness/targets.hpp"
