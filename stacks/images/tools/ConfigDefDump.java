/*
 * Prints, as JSON on stdout, what a Kafka release itself says about its broker configuration: every
 * key of the broker's ConfigDef (type, default, importance, whether its documentation calls it
 * deprecated, whether it is internal) and every class on the release's classpath.
 *
 * Run with the release's runtime classpath (the same jars its image is built from), on any JDK 11+:
 *
 *   java -cp "$(cat kafka-3.9.1.classpath)" ConfigDefDump.java > kafka-3.9.1.json
 *
 * kafka-harness runs it through `java` (source-file mode, no build step) and caches the output per
 * release. Only reflection reaches Kafka: KafkaConfig moved its ConfigDef between 3.x (a Scala
 * object's `configDef()`, with a static forwarder on kafka.server.KafkaConfig) and 4.x (also
 * org.apache.kafka.server.config.AbstractKafkaConfig.CONFIG_DEF), and this file must compile
 * without any Kafka jar.
 */

import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

public class ConfigDefDump {
    /** Bumped whenever the output changes shape; the harness keys its cache on it. */
    static final int FORMAT = 1;

    public static void main(String[] args) throws Exception {
        Object configDef = brokerConfigDef();
        Class<?> defClass = Class.forName("org.apache.kafka.common.config.ConfigDef");
        Class<?> typeClass = Class.forName("org.apache.kafka.common.config.ConfigDef$Type");
        Object noDefault = defClass.getField("NO_DEFAULT_VALUE").get(null);
        Method convertToString = defClass.getMethod("convertToString", Object.class, typeClass);
        @SuppressWarnings("unchecked")
        Map<String, Object> keys = (Map<String, Object>) defClass.getMethod("configKeys").invoke(configDef);

        StringBuilder out = new StringBuilder();
        out.append("{\n  \"format\": ").append(FORMAT);
        out.append(",\n  \"kafka_version\": ").append(quote(kafkaVersion()));
        out.append(",\n  \"config_def\": ").append(quote(where));
        out.append(",\n  \"configs\": {");
        boolean first = true;
        for (Map.Entry<String, Object> e : new TreeMap<>(keys).entrySet()) {
            Object key = e.getValue();
            Class<?> kc = key.getClass();
            Object type = kc.getField("type").get(key);
            Object dflt = kc.getField("defaultValue").get(key);
            String doc = (String) kc.getField("documentation").get(key);
            Object importance = kc.getField("importance").get(key);
            Object validator = kc.getField("validator").get(key);
            boolean internal = false;
            try {
                internal = kc.getField("internalConfig").getBoolean(key);
            } catch (NoSuchFieldException ignored) {
                // older releases have no internal configs
            }
            String dfltText;
            if (dflt == noDefault) {
                dfltText = null;
            } else if (dflt == null) {
                dfltText = "null";
            } else if ("PASSWORD".equals(type.toString())) {
                dfltText = "[hidden]";
            } else {
                dfltText = (String) convertToString.invoke(null, dflt, type);
            }
            out.append(first ? "\n" : ",\n");
            first = false;
            out.append("    ").append(quote(e.getKey())).append(": {");
            out.append("\"type\": ").append(quote(type.toString().toLowerCase()));
            out.append(", \"default\": ").append(dfltText == null ? "null" : quote(dfltText));
            out.append(", \"has_default\": ").append(dflt != noDefault);
            out.append(", \"importance\": ").append(quote(String.valueOf(importance).toLowerCase()));
            String deprecation = deprecation(doc);
            out.append(", \"deprecated\": ").append(deprecation == null ? "null" : quote(deprecation));
            out.append(", \"internal\": ").append(internal);
            if (validator != null) {
                out.append(", \"valid\": ").append(quote(String.valueOf(validator)));
            }
            out.append("}");
        }
        out.append("\n  },\n  \"plugin_keys\": {");
        first = true;
        for (Map.Entry<String, String> e : pluginKeys().entrySet()) {
            out.append(first ? "\n    " : ",\n    ").append(quote(e.getKey())).append(": ").append(quote(e.getValue()));
            first = false;
        }
        out.append("\n  },\n  \"classes\": [");
        first = true;
        for (String c : classpathClasses()) {
            out.append(first ? "\n    " : ",\n    ").append(quote(c));
            first = false;
        }
        out.append("\n  ]\n}\n");
        System.out.print(out);
    }

    static String where = "";

    /** The broker's ConfigDef, wherever this release keeps it. */
    static Object brokerConfigDef() throws Exception {
        List<String> tried = new ArrayList<>();
        String[][] candidates = {
            {"kafka.server.KafkaConfig", "configDef"},
            {"kafka.server.KafkaConfig$", "configDef"},
            {"org.apache.kafka.server.config.AbstractKafkaConfig", "CONFIG_DEF"},
        };
        for (String[] c : candidates) {
            tried.add(c[0] + "." + c[1]);
            Class<?> cls;
            try {
                cls = Class.forName(c[0]);
            } catch (ClassNotFoundException e) {
                continue;
            }
            try {
                Method m = cls.getMethod(c[1]);
                Object target = Modifier.isStatic(m.getModifiers()) ? null : cls.getField("MODULE$").get(null);
                where = c[0] + "." + c[1] + "()";
                return m.invoke(target);
            } catch (NoSuchMethodException e) {
                // not a method here: maybe a field
            }
            try {
                Field f = cls.getField(c[1]);
                where = c[0] + "." + c[1];
                return f.get(null);
            } catch (NoSuchFieldException e) {
                // next candidate
            }
        }
        // Older releases (2.x) keep it private to the Scala object, under a mangled public name.
        try {
            Class<?> module = Class.forName("kafka.server.KafkaConfig$");
            for (Method m : module.getMethods()) {
                if (m.getParameterCount() == 0 && m.getName().endsWith("configDef")
                        && m.getReturnType().getName().equals("org.apache.kafka.common.config.ConfigDef")) {
                    where = "kafka.server.KafkaConfig$." + m.getName() + "()";
                    return m.invoke(module.getField("MODULE$").get(null));
                }
            }
        } catch (ClassNotFoundException e) {
            // not a Kafka broker classpath at all
        }
        tried.add("kafka.server.KafkaConfig$.*configDef()");
        throw new IllegalStateException("no broker ConfigDef found; tried " + tried);
    }

    /**
     * Broker keys that are not in the broker's ConfigDef but that Kafka's own plugins read from the
     * broker's config (the ACL authorizers' `super.users`, `allow.everyone.if.no.acl.found`, ...):
     * the plugin's public constants naming them (`*_CONFIG` fields in Java, `*Prop()` in Scala).
     */
    static TreeMap<String, String> pluginKeys() {
        TreeMap<String, String> keys = new TreeMap<>();
        String[] plugins = {
            "kafka.security.authorizer.AclAuthorizer",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        };
        for (String name : plugins) {
            // A Scala object keeps its constants on the module instance (`Name$.MODULE$`), some
            // under mangled names when private; Java classes keep them in static fields.
            for (String cn : new String[] {name, name + "$"}) {
                Class<?> cls;
                Object module = null;
                try {
                    cls = Class.forName(cn, false, ConfigDefDump.class.getClassLoader());
                    if (cn.endsWith("$")) {
                        module = cls.getField("MODULE$").get(null);
                    }
                } catch (Throwable e) {
                    continue;
                }
                for (Field f : cls.getFields()) {
                    if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class && constant(f.getName())) {
                        try {
                            addKey(keys, (String) f.get(null), name);
                        } catch (Throwable ignored) {
                            // not readable: not a key
                        }
                    }
                }
                for (Method m : cls.getMethods()) {
                    boolean callable = Modifier.isStatic(m.getModifiers()) || module != null;
                    if (callable && m.getParameterCount() == 0 && m.getReturnType() == String.class
                            && constant(m.getName())) {
                        try {
                            addKey(keys, (String) m.invoke(Modifier.isStatic(m.getModifiers()) ? null : module), name);
                        } catch (Throwable ignored) {
                            // not callable without set-up: not a key
                        }
                    }
                }
            }
        }
        return keys;
    }

    /** Names Kafka gives the constants that spell a config key or a key prefix. */
    static boolean constant(String name) {
        return name.endsWith("Prop") || name.endsWith("_CONFIG") || name.endsWith("Requests")
            || name.endsWith("configPrefix") || name.endsWith("CONFIG_PREFIX");
    }

    static void addKey(TreeMap<String, String> keys, String key, String plugin) {
        // A key, or a prefix (ending in a dot) under which the plugin reads keys of its own.
        if (key != null && key.matches("[a-z][a-z0-9-]*(\\.[a-z0-9-]+)*\\.?") && key.contains(".")) {
            keys.putIfAbsent(key, plugin);
        }
    }

    static String kafkaVersion() {
        try {
            return (String) Class.forName("org.apache.kafka.common.utils.AppInfoParser")
                .getMethod("getVersion").invoke(null);
        } catch (Exception e) {
            return "unknown";
        }
    }

    /** The sentence of a key's documentation that says it is deprecated, if any. */
    static String deprecation(String doc) {
        if (doc == null) {
            return null;
        }
        String plain = doc.replaceAll("<[^>]+>", "").replaceAll("\\s+", " ").trim();
        int at = plain.toLowerCase().indexOf("deprecated");
        if (at < 0) {
            return null;
        }
        int start = Math.max(plain.lastIndexOf(". ", at) + 2, 0);
        if (plain.lastIndexOf(". ", at) < 0) {
            start = 0;
        }
        int end = plain.indexOf(". ", at);
        end = end < 0 ? plain.length() : end + 1;
        return plain.substring(start, end).trim();
    }

    /** Every named class in the jars of the classpath (anonymous and synthetic ones left out). */
    static TreeSet<String> classpathClasses() throws Exception {
        TreeSet<String> names = new TreeSet<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!entry.endsWith(".jar") || !new File(entry).isFile()) {
                continue;
            }
            try (JarFile jar = new JarFile(entry)) {
                Enumeration<JarEntry> entries = jar.entries();
                while (entries.hasMoreElements()) {
                    String n = entries.nextElement().getName();
                    if (!n.endsWith(".class") || n.startsWith("META-INF/") || n.endsWith("module-info.class")
                            || n.endsWith("package-info.class")) {
                        continue;
                    }
                    String name = n.substring(0, n.length() - 6).replace('/', '.');
                    if (anonymous(name)) {
                        continue;
                    }
                    names.add(name);
                }
            }
        }
        return names;
    }

    static boolean anonymous(String name) {
        int d = name.indexOf('$');
        while (d >= 0) {
            if (d + 1 >= name.length() || Character.isDigit(name.charAt(d + 1))) {
                return true;
            }
            d = name.indexOf('$', d + 1);
        }
        return false;
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }
}
