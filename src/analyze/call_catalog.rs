//! Which calls reach another service: per language, the clients of HTTP, databases, caches,
//! queues and gRPC, as one explicit table. A call matches an entry by its dotted path
//! (`requests.get`, `http.Get`), or by a method on a receiver whose binding mentions one of
//! the entry's constructors or types (`s = requests.Session()` … `s.get(...)`), or — last —
//! by a method on a receiver with a conventional name (`cursor.execute`).

use super::source_language::SourceLanguage;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Http,
    Database,
    Cache,
    Queue,
    Grpc,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Http => "HTTP",
            Category::Database => "database",
            Category::Cache => "cache",
            Category::Queue => "queue",
            Category::Grpc => "gRPC",
        }
    }

    /// How much a failing call of this category hurts (the severity's first factor).
    pub fn weight(self) -> f64 {
        match self {
            Category::Database => 4.0,
            Category::Http | Category::Grpc | Category::Queue => 3.0,
            Category::Cache => 2.0,
        }
    }
}

/// One client library (or family) of one language.
pub struct ClientEntry {
    pub languages: &'static [SourceLanguage],
    pub category: Category,
    pub library: &'static str,
    /// Dotted paths that call out by themselves (matched on whole segments at the end).
    pub functions: &'static [&'static str],
    /// A receiver whose binding mentions one of these…
    pub constructors: &'static [&'static str],
    /// …calls out with these methods (empty: any method).
    pub methods: &'static [&'static str],
    /// Receiver names that conventionally hold such a client.
    pub names: &'static [&'static str],
}

use SourceLanguage::{Go, Java, JavaScript, Python, Rust, Tsx, TypeScript};
const JS: &[SourceLanguage] = &[JavaScript, TypeScript, Tsx];

const HTTP_METHODS: &[&str] = &[
    "get", "post", "put", "delete", "patch", "head", "request", "send", "fetch", "stream",
];
const DB_METHODS: &[&str] = &[
    "execute",
    "executemany",
    "fetch",
    "fetchrow",
    "fetchval",
    "query",
    "query_one",
    "query_opt",
    "execute_query",
    "find",
    "find_one",
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "delete_one",
    "delete_many",
    "aggregate",
    "count_documents",
    "fetch_one",
    "fetch_all",
    "fetch_optional",
    "batch_execute",
];
const CACHE_METHODS: &[&str] = &[
    "get", "set", "setex", "delete", "del", "incr", "decr", "expire", "hget", "hset", "hgetall",
    "mget", "mset", "exists", "lpush", "rpush", "lpop", "zadd", "publish", "llen", "lrange",
    "hlen", "scan", "keys", "pipeline",
];
const QUEUE_METHODS: &[&str] = &[
    "publish",
    "basic_publish",
    "send",
    "send_message",
    "sendToQueue",
    "produce",
    "produce_batch",
    "send_and_wait",
    "delay",
    "apply_async",
    "send_task",
];

pub static CATALOG: &[ClientEntry] = &[
    // ---- Python
    ClientEntry {
        languages: &[Python],
        category: Category::Http,
        library: "requests/httpx",
        functions: &[
            "requests.get",
            "requests.post",
            "requests.put",
            "requests.delete",
            "requests.patch",
            "requests.head",
            "requests.request",
            "httpx.get",
            "httpx.post",
            "httpx.put",
            "httpx.delete",
            "httpx.patch",
            "httpx.request",
            "urllib.request.urlopen",
            "urlopen",
        ],
        constructors: &[
            "requests.Session",
            "httpx.Client",
            "httpx.AsyncClient",
            "ClientSession",
            "Session()",
        ],
        methods: HTTP_METHODS,
        names: &["session", "http", "http_client", "client_session"],
    },
    ClientEntry {
        languages: &[Python],
        category: Category::Database,
        library: "DB-API/SQLAlchemy/asyncpg/pymongo",
        functions: &[],
        constructors: &[
            "psycopg",
            "pymysql",
            "MySQLdb",
            "mysql.connector",
            "asyncpg",
            "create_engine",
            "create_async_engine",
            "MongoClient",
            "AsyncIOMotorClient",
            "cx_Oracle",
            "pyodbc",
            "sessionmaker",
            "databases.Database",
        ],
        methods: DB_METHODS,
        names: &[
            "cursor",
            "cur",
            "db",
            "conn",
            "connection",
            "pool",
            "engine",
            "collection",
        ],
    },
    ClientEntry {
        languages: &[Python],
        category: Category::Cache,
        library: "redis/memcache",
        functions: &[],
        constructors: &[
            "redis.Redis",
            "StrictRedis",
            "redis.from_url",
            "Redis(",
            "memcache.Client",
            "pymemcache",
        ],
        methods: CACHE_METHODS,
        names: &["redis", "cache", "rdb", "redis_client"],
    },
    ClientEntry {
        languages: &[Python],
        category: Category::Queue,
        library: "pika/kafka/celery/boto3",
        functions: &[],
        constructors: &[
            "pika.",
            "KafkaProducer",
            "Producer(",
            "boto3.client(\"sqs\"",
            "boto3.client('sqs'",
            "channel()",
        ],
        methods: QUEUE_METHODS,
        names: &["channel", "producer", "publisher", "sqs"],
    },
    ClientEntry {
        languages: &[Python],
        category: Category::Grpc,
        library: "grpc",
        functions: &[],
        constructors: &["Stub("],
        methods: &[],
        names: &["stub"],
    },
    // ---- JavaScript / TypeScript
    ClientEntry {
        languages: JS,
        category: Category::Http,
        library: "fetch/axios/got/http",
        functions: &[
            "fetch",
            "axios",
            "axios.get",
            "axios.post",
            "axios.put",
            "axios.delete",
            "axios.patch",
            "axios.request",
            "got",
            "got.get",
            "got.post",
            "http.request",
            "http.get",
            "https.request",
            "https.get",
            "superagent.get",
            "superagent.post",
        ],
        constructors: &["axios.create", "got.extend", "ky.create"],
        methods: HTTP_METHODS,
        names: &["httpClient", "http_client", "api", "axiosInstance"],
    },
    ClientEntry {
        languages: JS,
        category: Category::Database,
        library: "pg/mysql/mongodb/knex/prisma",
        functions: &[],
        constructors: &[
            "Pool(",
            "new Client(",
            "pg.",
            "mysql",
            "MongoClient",
            "knex(",
            "PrismaClient",
            "createPool",
            "createConnection",
            "mongoose",
        ],
        methods: &[
            "query",
            "execute",
            "find",
            "findOne",
            "insertOne",
            "insertMany",
            "updateOne",
            "deleteOne",
            "aggregate",
            "findMany",
            "findUnique",
            "findFirst",
            "create",
            "update",
            "upsert",
            "countDocuments",
            "raw",
        ],
        names: &[
            "pool",
            "db",
            "knex",
            "prisma",
            "collection",
            "connection",
            "conn",
        ],
    },
    ClientEntry {
        languages: JS,
        category: Category::Cache,
        library: "redis/ioredis",
        functions: &[],
        constructors: &["createClient", "new Redis", "ioredis", "Memcached"],
        methods: &[
            "get", "set", "setEx", "setex", "del", "incr", "expire", "hGet", "hSet", "hget",
            "hset", "mGet", "exists",
        ],
        names: &["redis", "cache", "redisClient"],
    },
    ClientEntry {
        languages: JS,
        category: Category::Queue,
        library: "amqplib/kafkajs/sqs",
        functions: &[],
        constructors: &[
            "amqp.connect",
            "createChannel",
            "kafka.producer",
            ".producer(",
            "SQSClient",
            "SNSClient",
        ],
        methods: &["publish", "sendToQueue", "send", "sendBatch"],
        names: &["channel", "producer", "sqs"],
    },
    // ---- Go
    ClientEntry {
        languages: &[Go],
        category: Category::Http,
        library: "net/http",
        functions: &[
            "http.Get",
            "http.Post",
            "http.Head",
            "http.PostForm",
            "http.DefaultClient.Do",
            "http.DefaultClient.Get",
            "http.DefaultClient.Post",
        ],
        constructors: &["http.Client", "resty.New", "retryablehttp"],
        methods: &["Do", "Get", "Post", "Head", "PostForm", "R"],
        names: &["httpClient", "client"],
    },
    ClientEntry {
        languages: &[Go],
        category: Category::Database,
        library: "database/sql/pgx/mongo",
        functions: &[],
        constructors: &[
            "sql.Open",
            "sql.DB",
            "sqlx.",
            "pgxpool",
            "pgx.Connect",
            "pgx.Conn",
            "gorm.",
            "mongo.Connect",
            "mongo.Collection",
            "sql.Tx",
        ],
        methods: &[
            "Query",
            "QueryRow",
            "QueryContext",
            "QueryRowContext",
            "Exec",
            "ExecContext",
            "Get",
            "Select",
            "Find",
            "FindOne",
            "InsertOne",
            "UpdateOne",
            "DeleteOne",
            "Aggregate",
            "First",
            "Create",
            "Save",
        ],
        names: &["db", "pool", "conn", "tx"],
    },
    ClientEntry {
        languages: &[Go],
        category: Category::Cache,
        library: "go-redis/memcache",
        functions: &[],
        constructors: &[
            "redis.NewClient",
            "redis.Client",
            "redis.NewClusterClient",
            "memcache.New",
        ],
        methods: &[
            "Get", "Set", "SetNX", "SetEX", "Del", "Incr", "Expire", "HGet", "HSet", "MGet",
            "Exists", "Publish",
        ],
        names: &["rdb", "redis", "cache"],
    },
    ClientEntry {
        languages: &[Go],
        category: Category::Queue,
        library: "amqp/kafka-go/nats",
        functions: &[],
        constructors: &[
            "amqp.Dial",
            "amqp.Channel",
            "Channel()",
            "kafka.Writer",
            "kafka.NewWriter",
            "nats.Connect",
            "sarama.",
        ],
        methods: &[
            "Publish",
            "PublishWithContext",
            "WriteMessages",
            "SendMessage",
            "Request",
        ],
        names: &["ch", "channel", "producer", "writer", "nc"],
    },
    ClientEntry {
        languages: &[Go],
        category: Category::Grpc,
        library: "grpc",
        functions: &[],
        constructors: &["Client(conn", "Client(cc", "ServiceClient"],
        methods: &[],
        names: &[],
    },
    // ---- Java
    ClientEntry {
        languages: &[Java],
        category: Category::Http,
        library: "HttpClient/RestTemplate/WebClient/OkHttp",
        functions: &[],
        constructors: &[
            "HttpClient",
            "RestTemplate",
            "WebClient",
            "OkHttpClient",
            "RestClient",
            "CloseableHttpClient",
        ],
        methods: &[
            "send",
            "sendAsync",
            "getForObject",
            "getForEntity",
            "postForObject",
            "postForEntity",
            "exchange",
            "put",
            "delete",
            "newCall",
            "execute",
            "retrieve",
        ],
        names: &["restTemplate", "httpClient", "webClient", "client"],
    },
    ClientEntry {
        languages: &[Java],
        category: Category::Database,
        library: "JDBC/JdbcTemplate/JPA",
        functions: &[],
        constructors: &[
            "JdbcTemplate",
            "Statement",
            "PreparedStatement",
            "Connection",
            "EntityManager",
            "MongoTemplate",
            "DataSource",
            "Repository",
        ],
        methods: &[
            "query",
            "queryForObject",
            "queryForList",
            "update",
            "batchUpdate",
            "executeQuery",
            "executeUpdate",
            "execute",
            "find",
            "findAll",
            "findById",
            "save",
            "persist",
            "merge",
            "createQuery",
            "getResultList",
            "getSingleResult",
        ],
        names: &[
            "jdbcTemplate",
            "stmt",
            "statement",
            "repository",
            "entityManager",
        ],
    },
    ClientEntry {
        languages: &[Java],
        category: Category::Cache,
        library: "Jedis/Lettuce/RedisTemplate",
        functions: &[],
        constructors: &[
            "Jedis",
            "RedisTemplate",
            "StringRedisTemplate",
            "RedisCommands",
        ],
        methods: &[
            "get",
            "set",
            "setex",
            "del",
            "incr",
            "expire",
            "hget",
            "hset",
            "opsForValue",
            "opsForHash",
        ],
        names: &["jedis", "redis", "redisTemplate"],
    },
    ClientEntry {
        languages: &[Java],
        category: Category::Queue,
        library: "Kafka/Rabbit/JMS",
        functions: &[],
        constructors: &[
            "KafkaTemplate",
            "KafkaProducer",
            "RabbitTemplate",
            "JmsTemplate",
            "Producer<",
        ],
        methods: &["send", "convertAndSend", "basicPublish"],
        names: &["kafkaTemplate", "producer", "rabbitTemplate", "jmsTemplate"],
    },
    ClientEntry {
        languages: &[Java],
        category: Category::Grpc,
        library: "grpc-java",
        functions: &[],
        constructors: &[
            "BlockingStub",
            "FutureStub",
            "newBlockingStub",
            "newFutureStub",
            "newStub",
        ],
        methods: &[],
        names: &["stub", "blockingStub"],
    },
    // ---- Rust
    ClientEntry {
        languages: &[Rust],
        category: Category::Http,
        library: "reqwest/hyper/ureq",
        functions: &[
            "reqwest.get",
            "ureq.get",
            "ureq.post",
            "surf.get",
            "surf.post",
        ],
        constructors: &[
            "reqwest",
            "Client::new",
            "Client::builder",
            "ClientBuilder",
            "hyper",
            "ureq::Agent",
            "awc::Client",
        ],
        methods: &[
            "get",
            "post",
            "put",
            "delete",
            "patch",
            "head",
            "request",
            "execute",
            "send_request",
        ],
        names: &["http", "http_client", "client"],
    },
    ClientEntry {
        languages: &[Rust],
        category: Category::Database,
        library: "sqlx/tokio-postgres/diesel/mongodb",
        functions: &["sqlx.query", "sqlx.query_as", "sqlx.query_scalar"],
        constructors: &[
            "PgPool",
            "Pool<",
            "MySqlPool",
            "SqlitePool",
            "PgPoolOptions",
            "tokio_postgres",
            "deadpool",
            "bb8",
            "mongodb",
            "diesel",
            "PgConnection",
        ],
        methods: &[
            "query",
            "query_one",
            "query_opt",
            "execute",
            "fetch_one",
            "fetch_all",
            "fetch_optional",
            "batch_execute",
            "find",
            "find_one",
            "insert_one",
        ],
        names: &["pool", "db", "conn", "client"],
    },
    ClientEntry {
        languages: &[Rust],
        category: Category::Cache,
        library: "redis",
        functions: &["redis.cmd"],
        constructors: &[
            "redis::Client",
            "redis::aio",
            "ConnectionManager",
            "MultiplexedConnection",
        ],
        methods: &[
            "get",
            "set",
            "set_ex",
            "del",
            "incr",
            "expire",
            "hget",
            "hset",
            "query_async",
            "publish",
        ],
        names: &["redis", "cache", "con"],
    },
    ClientEntry {
        languages: &[Rust],
        category: Category::Queue,
        library: "lapin/rdkafka",
        functions: &[],
        constructors: &[
            "lapin",
            "Channel",
            "FutureProducer",
            "BaseProducer",
            "rdkafka",
        ],
        methods: &["basic_publish", "send", "send_result"],
        names: &["channel", "producer"],
    },
    ClientEntry {
        languages: &[Rust],
        category: Category::Grpc,
        library: "tonic",
        functions: &[],
        constructors: &["Client::connect", "Client<Channel>", "Client::new(channel"],
        methods: &[],
        names: &[],
    },
];

/// Bindings that make a conventionally named receiver a plain in-memory collection.
const LOCAL_COLLECTIONS: &[&str] = &[
    "new Map",
    "Map<",
    "HashMap",
    "dict(",
    "= {}",
    "defaultdict",
    "new Set",
    "Vec<",
    "lru_cache",
    "LRUCache",
    "new LRU",
];

/// How a call matched (the evidence, strongest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Function,
    Binding,
    Name,
}

/// Finds the entry a call matches: `path` is the dotted path of the chain's root and first
/// method, `methods` the chain's methods in order, `provenance` what the root is bound to,
/// `root_name` the root's last segment. Returns the entry and the index of the matching method.
pub fn classify(
    language: SourceLanguage,
    path: &str,
    methods: &[String],
    provenance: &str,
    root_name: &str,
) -> Option<(&'static ClientEntry, usize, MatchedBy)> {
    let entries = || CATALOG.iter().filter(|e| e.languages.contains(&language));
    for e in entries() {
        if e.functions.iter().any(|f| ends_with_segments(path, f)) {
            return Some((e, 0, MatchedBy::Function));
        }
    }
    if methods.is_empty() || root_name.is_empty() {
        return None;
    }
    for e in entries() {
        if e.constructors.iter().any(|c| provenance.contains(c))
            && let Some(i) = method_index(e, methods)
        {
            return Some((e, i, MatchedBy::Binding));
        }
    }
    // A conventional name bound here to a local collection is not a client.
    if LOCAL_COLLECTIONS.iter().any(|c| provenance.contains(c)) {
        return None;
    }
    for e in entries() {
        if e.names.contains(&root_name)
            && !e.methods.is_empty()
            && let Some(i) = method_index(e, methods)
        {
            return Some((e, i, MatchedBy::Name));
        }
        // A getter that returns such a client: `self.get_http_client().fetch(...)`.
        if let Some(i) = method_index(e, methods)
            && methods[..i].iter().any(|m| {
                let m = m.strip_prefix("get_").unwrap_or(m);
                e.names.iter().any(|n| n.len() > 4 && m.ends_with(n))
            })
        {
            return Some((e, i, MatchedBy::Name));
        }
    }
    None
}

fn method_index(e: &ClientEntry, methods: &[String]) -> Option<usize> {
    if e.methods.is_empty() {
        // Any method of a stub, but not the builder calls around it.
        return methods.iter().position(|m| {
            !matches!(
                m.as_str(),
                "with_deadline_after" | "withDeadlineAfter" | "clone" | "new"
            )
        });
    }
    methods.iter().position(|m| e.methods.contains(&m.as_str()))
}

/// `a.b.c` ends with `b.c`, not with `.c` inside a name (`xb.c` does not end with `b.c`).
fn ends_with_segments(path: &str, suffix: &str) -> bool {
    path == suffix
        || path
            .strip_suffix(suffix)
            .is_some_and(|head| head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn functions_bindings_and_names() {
        let (e, _, by) = classify(Python, "requests.get", &m(&["get"]), "", "requests").unwrap();
        assert_eq!((e.category, by), (Category::Http, MatchedBy::Function));
        let (e, i, by) = classify(
            Python,
            "s.get",
            &m(&["get", "json"]),
            "requests.Session()",
            "s",
        )
        .unwrap();
        assert_eq!((e.category, i, by), (Category::Http, 0, MatchedBy::Binding));
        let (e, _, by) =
            classify(Python, "cursor.execute", &m(&["execute"]), "", "cursor").unwrap();
        assert_eq!((e.category, by), (Category::Database, MatchedBy::Name));
        assert!(classify(Python, "d.get", &m(&["get"]), "{}", "d").is_none());
        assert!(classify(Go, "myhttp.Get", &m(&["Get"]), "", "myhttp").is_none());
        assert!(ends_with_segments("http.Get", "http.Get"));
        assert!(!ends_with_segments("xhttp.Get", "http.Get"));
    }
}
