//! Unit tests of the YAML loader's helpers (key index, key splitting, host:port syntax).

use super::*;

#[test]
fn key_index_paths_and_positions() {
    let text = "\u{feff}# header\nlisten:\n  tcp: \"127.0.0.1:1\" # c\n\n  \
                unix_socket: /s\nlimits:   # comment: not a key\n  max_connections: 5\n  \
                'quoted key': 1\n  \"dq\\\"k\": 2\nlog:\n  level: |\n    a: b\n    \
                c: d\n  format: text\nseq:\n  - name: x\n    sub: y\n";
    let idx = KeyIndex::build(text);
    assert_eq!(idx.find(&["listen"]), Some((2, 1)));
    assert_eq!(idx.find(&["listen", "tcp"]), Some((3, 3)));
    assert_eq!(idx.find(&["listen", "unix_socket"]), Some((5, 3)));
    assert_eq!(idx.find(&["limits", "max_connections"]), Some((7, 3)));
    assert_eq!(idx.find(&["limits", "quoted key"]), Some((8, 3)));
    assert_eq!(idx.find(&["limits", "dq\\\"k"]), Some((9, 3)));
    // Block scalar contents are not keys.
    assert_eq!(idx.find(&["log", "level", "a"]), None);
    assert_eq!(idx.find(&["log", "format"]), Some((14, 3)));
    assert_eq!(idx.find(&["seq", "name"]), Some((16, 5)));
    assert_eq!(idx.find(&["seq", "sub"]), Some((17, 5)));
    assert_eq!(idx.path_at(12), vec!["log", "level"]);
    assert_eq!(idx.path_at(1), Vec::<String>::new());
    assert_eq!(idx.line_of(&["limits", "absent"]), Some(6));
    assert_eq!(idx.line_of(&["absent"]), None);
}

#[test]
fn split_key_cases() {
    assert_eq!(split_key("a: b"), Some(("a".into(), " b")));
    assert_eq!(split_key("a:"), Some(("a".into(), "")));
    assert_eq!(split_key("url: http://x:1"), Some(("url".into(), " http://x:1")));
    assert_eq!(split_key("a:b"), None);
    assert_eq!(split_key("plain scalar"), None);
    assert_eq!(split_key("{a: 1}"), None);
    assert_eq!(split_key("'it''s' : 1"), Some(("it's".into(), " 1")));
}

#[test]
fn host_port_syntax() {
    let ok = ["127.0.0.1:6033", "localhost:0", "[::1]:6033", "db-1.example_x:3306"];
    for s in ok {
        assert!(check_host_port(s, true, "x").is_ok(), "{s}");
    }
    let bad = [
        "",
        "127.0.0.1",
        ":6033",
        "::1:6033",
        "[::1]6033",
        "[nope]:1",
        "h:65536",
        "h:-1",
        "h o:1",
        "[::1:1",
    ];
    for s in bad {
        assert!(check_host_port(s, true, "x").is_err(), "{s}");
    }
    assert!(check_host_port("h:0", false, "x").is_err());
}

#[test]
fn suggestions() {
    let expected = ["max_connections", "max_connections_per_user", "max_packet_size"];
    assert_eq!(suggest("max_conection", &expected), Some("max_connections"));
    assert_eq!(suggest("zzz", &expected), None);
}
