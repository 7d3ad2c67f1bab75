//! ZooKeeper: zoo.cfg and the start command for each image flavor.

use super::{ConfigFile, CONFIG_DIR};
use crate::scenario::{Flavor, NodeId, Stack};

pub const CLIENT_PORT: u16 = 2181;
pub const DATA_DIR: &str = "/var/lib/zookeeper/data";

/// The connection string brokers use, on the run's docker network.
pub fn connect_string(stack: &Stack) -> String {
    (1..=nodes(stack))
        .map(|n| format!("{}:{CLIENT_PORT}", NodeId::ZooKeeper(n)))
        .collect::<Vec<_>>()
        .join(",")
}

fn nodes(stack: &Stack) -> u8 {
    stack.zookeeper.as_ref().map_or(0, |z| z.nodes)
}

pub fn render_zoo_cfg(stack: &Stack) -> String {
    let mut out = format!(
        "# rendered by kafka-harness for stack {}\n\
         tickTime=2000\n\
         initLimit=10\n\
         syncLimit=5\n\
         dataDir={DATA_DIR}\n\
         clientPort={CLIENT_PORT}\n\
         # srvr is the readiness probe; mntr and ruok help when looking at a run by hand\n\
         4lw.commands.whitelist=srvr,mntr,ruok\n\
         admin.enableServer=false\n\
         autopurge.purgeInterval=1\n",
        stack.name
    );
    if nodes(stack) > 1 {
        // Containers resolve peers by name only once those peers exist; listening on all
        // addresses keeps an ensemble that starts together from racing its own DNS entries.
        out.push_str("quorumListenOnAllIPs=true\n");
        for n in 1..=nodes(stack) {
            out.push_str(&format!(
                "server.{n}={}:2888:3888;{CLIENT_PORT}\n",
                NodeId::ZooKeeper(n)
            ));
        }
    }
    out
}

pub fn config_files(stack: &Stack) -> Vec<ConfigFile> {
    vec![ConfigFile::new("zoo.cfg", render_zoo_cfg(stack))]
}

/// The container command: write myid where ZooKeeper reads it, then start in the foreground.
pub fn command(flavor: Flavor) -> Vec<String> {
    let start = match flavor {
        Flavor::Harness => "zookeeper-server-start",
        Flavor::OfficialZooKeeper => "zkServer.sh start-foreground",
        Flavor::Confluent => "/usr/bin/zookeeper-server-start",
        Flavor::Bitnami => "/opt/bitnami/zookeeper/bin/zkServer.sh start-foreground",
        Flavor::Apache => "zookeeper-server-start",
    };
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "mkdir -p {DATA_DIR} && echo \"$ZOO_MY_ID\" > {DATA_DIR}/myid && exec {start} {CONFIG_DIR}/zoo.cfg"
        ),
    ]
}
