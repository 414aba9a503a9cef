package id.dtks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * The file system of a local lakehouse (fs.file.impl): Hadoop's own, except that a file's permissions are set
 * through java.nio. Without Hadoop's native library, Hadoop sets them by running a `chmod` process for every
 * file it creates (each Parquet file, its checksum file, each directory), which made a write of a few hundred
 * small partition files take seconds. A mode NIO cannot set (setuid, setgid, sticky bit) or a file system
 * without POSIX attributes is left to Hadoop.
 */
public class LocalFileSystem extends org.apache.hadoop.fs.LocalFileSystem {

  public LocalFileSystem() {
    super(new Raw());
  }

  /** The raw (unchecksummed) local file system underneath. */
  public static class Raw extends org.apache.hadoop.fs.RawLocalFileSystem {

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
      int mode = permission.toShort() & 07777;
      if ((mode & ~0777) != 0) {
        super.setPermission(p, permission);
        return;
      }
      try {
        Files.setPosixFilePermissions(pathToFile(p).toPath(), posix(mode));
      } catch (UnsupportedOperationException e) {
        super.setPermission(p, permission);
      }
    }

    /**
     * A file's status without following a link. Hadoop finds links by running `readlink` for each path (it
     * does so for both paths of every rename Delta commits through FileContext); NIO answers in process.
     * A link itself is left to Hadoop.
     */
    @Override
    public FileStatus getFileLinkStatus(Path f) throws IOException {
      if (Files.isSymbolicLink(pathToFile(f).toPath())) {
        return super.getFileLinkStatus(f);
      }
      return getFileStatus(f);
    }
  }

  /** rwxrwxrwx bits, owner first, as NIO's permissions. */
  static Set<PosixFilePermission> posix(int mode) {
    PosixFilePermission[] order = {
      PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE,
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE,
    };
    Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
    for (int i = 0; i < order.length; i++) {
      if ((mode & (0400 >> i)) != 0) {
        out.add(order[i]);
      }
    }
    return out;
  }
}
