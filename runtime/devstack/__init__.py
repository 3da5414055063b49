"""A real Kafka broker and a real Confluent-API schema registry for development and tests, without Docker.

Both servers come from Maven Central (downloaded once with ``mvn`` into
``~/.cache/schemabus``, or ``$XDG_CACHE_HOME/schemabus``, or ``$SCHEMABUS_CACHE_DIR``)
and run on a local JDK (Java 17+; 21+ gets the newer registry):

- Apache Kafka 4.x, one KRaft node, configured so idempotent producers, consumer groups
  and transactions work; besides its PLAINTEXT listener (open to everyone) it has a
  SASL_PLAINTEXT one with fixed SASL/PLAIN dev users and ACLs enforced, to test
  authentication and authorization failures (``DevStack.sasl``); or, with
  ``start_stack(brokers=3)``, a KRaft cluster of three broker+controller nodes whose topics
  get 3 replicas and ``min.insync.replicas=2``, whose brokers can be killed, stopped and
  restarted on their data one by one (``DevStack.broker``, ``restart_broker``);
- Apicurio Registry 3.x on its Confluent-compatible API (``/apis/ccompat/v7``), with a
  global BACKWARD compatibility rule, its schemas in an H2 database file.

In a run folder of your choosing (``start_stack(run_dir)``, and ``schemabus dev up``), the
data outlives the servers: the next start finds the topics, records, committed offsets and
schemas (with the same ids) again; ``fresh=True`` (``dev up --fresh``) deletes it first.
``DevStack.restart`` (``schemabus dev restart``) stops and starts servers on their data and
ports, also from another process than the one that started them.

Typical use::

    from schemabus.runtime.devstack import start_stack

    with start_stack() as stack:
        stack.bootstrap_servers  # "127.0.0.1:PORT"
        stack.registry_url       # "http://127.0.0.1:PORT/apis/ccompat/v7"
        stack.sasl.address       # "127.0.0.1:PORT": SASL/PLAIN, ACLs enforced
        stack.sasl.client_config(stack.sasl.alice)  # librdkafka properties for a dev user

From a shell: ``eval "$(schemabus dev up)"``, then ``schemabus dev down`` (data kept).
Environment: ``SCHEMABUS_CACHE_DIR`` moves the cache; ``SCHEMABUS_JAVA`` names the
``java`` to use; ``SCHEMABUS_BOOTSTRAP_SERVERS`` / ``SCHEMABUS_REGISTRY_URL`` are what
``DevStack.env()`` and ``dev up`` produce, and what the integration tests use instead of
starting servers when they are set.
Every failure raises ``DevStackError``, whose message names the server, the reason and
the log file (with its last lines).
"""

from .errors import DevStackError
from .fetch import cache_dir
from .jdk import ENV_JAVA, Jdk, find_jdks, resolve_jdk
from .kafka import (
    KAFKA_VERSION,
    KafkaProcess,
    SaslListener,
    SaslUser,
    fetch_kafka,
    plan_storage,
    quorum_leader,
    restart_kafka,
    restart_kafka_nodes,
    start_kafka,
    start_kafka_cluster,
)
from .process import ServerProcess
from .registry import (
    REGISTRY_VERSION,
    REGISTRY_VERSION_JAVA17,
    fetch_registry,
    restart_registry,
    start_registry,
)
from .stack import (
    ENV_BOOTSTRAP,
    ENV_REGISTRY,
    DevStack,
    data_dirs,
    delete_data,
    dev_run_dir,
    new_run_dir,
    prune_runs,
    start_stack,
)

__all__ = [
    "ENV_BOOTSTRAP",
    "ENV_JAVA",
    "ENV_REGISTRY",
    "KAFKA_VERSION",
    "REGISTRY_VERSION",
    "REGISTRY_VERSION_JAVA17",
    "DevStack",
    "DevStackError",
    "Jdk",
    "KafkaProcess",
    "SaslListener",
    "SaslUser",
    "ServerProcess",
    "cache_dir",
    "data_dirs",
    "delete_data",
    "dev_run_dir",
    "fetch_kafka",
    "fetch_registry",
    "find_jdks",
    "new_run_dir",
    "plan_storage",
    "prune_runs",
    "quorum_leader",
    "resolve_jdk",
    "restart_kafka",
    "restart_kafka_nodes",
    "restart_registry",
    "start_kafka",
    "start_kafka_cluster",
    "start_registry",
    "start_stack",
]
