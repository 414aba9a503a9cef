package id.dtks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.spark.sql.api.java.UDF1;

/**
 * HMAC-SHA256(key, value) as lowercase hex: the keyed token of a NIK or KK number.
 *
 * <p>The function object holds only where the key is ({@code env:NAME} or {@code file:PATH}), never the
 * key: each JVM (driver, executor) reads the secret itself on first use, so the key is in no Spark plan,
 * event log, UI page or serialized task. Equal to Python's {@code hmac.new(key, value, sha256)}.
 */
public final class NikToken implements UDF1<String, String> {
  private static final long serialVersionUID = 1L;
  private static final int MIN_KEY_LENGTH = 32;
  private static final ConcurrentHashMap<String, SecretKeySpec> KEYS = new ConcurrentHashMap<>();
  private static final ConcurrentHashMap<String, ThreadLocal<Mac>> MACS = new ConcurrentHashMap<>();

  private final String source;

  public NikToken(String source) {
    if (!(source.startsWith("env:") || source.startsWith("file:")) || source.indexOf(':') == source.length() - 1) {
      throw new IllegalArgumentException("NIK key source must be env:NAME or file:PATH, got " + source);
    }
    this.source = source;
  }

  /** Where the key is read from (never the key itself). */
  public String source() {
    return source;
  }

  @Override
  public String call(String value) {
    if (value == null) {
      return null;
    }
    Mac mac = MACS.computeIfAbsent(source, s -> ThreadLocal.withInitial(() -> newMac(s))).get();
    return HexFormat.of().formatHex(mac.doFinal(value.getBytes(StandardCharsets.UTF_8)));
  }

  /** Reads the key where this JVM runs; a missing or short key is one clear line naming its source. */
  public static void check(String source) {
    key(source);
  }

  private static Mac newMac(String source) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key(source));
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
    }
  }

  private static SecretKeySpec key(String source) {
    return KEYS.computeIfAbsent(source, NikToken::read);
  }

  private static SecretKeySpec read(String source) {
    String where = source.substring(source.indexOf(':') + 1);
    byte[] key;
    if (source.startsWith("env:")) {
      String value = System.getenv(where);
      if (value == null || value.isEmpty()) {
        throw new IllegalStateException("NIK key: environment variable " + where
            + " is not set in this JVM (every executor needs it; docs/DEPLOYMENT.md)");
      }
      key = value.getBytes(StandardCharsets.UTF_8);
    } else {
      try {
        key = Files.readString(Path.of(where), StandardCharsets.UTF_8).strip().getBytes(StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new IllegalStateException("NIK key: cannot read key file " + where + " in this JVM ("
            + e.getClass().getSimpleName() + ")");
      }
    }
    if (key.length < MIN_KEY_LENGTH) {
      throw new IllegalStateException("NIK key from " + source + " is shorter than " + MIN_KEY_LENGTH + " characters");
    }
    return new SecretKeySpec(key, "HmacSHA256");
  }
}
