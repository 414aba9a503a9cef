package id.dtks;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFs;
import org.apache.hadoop.fs.DelegateToFileSystem;
import org.apache.hadoop.fs.FsConstants;

/**
 * The local lakehouse as Hadoop's FileContext sees it (fs.AbstractFileSystem.file.impl): Hadoop's LocalFs
 * over {@link LocalFileSystem.Raw}. Delta writes every commit of its log through FileContext (create, then
 * rename), where Hadoop's own local file system runs a `chmod` process per file created and a `readlink`
 * process per path renamed: hundreds of processes in a small round.
 */
public class LocalFs extends ChecksumFs {

  public LocalFs(URI uri, Configuration conf) throws IOException, URISyntaxException {
    super(new Raw(uri, conf));
  }

  /** The unchecksummed file system underneath, delegating to dtks's raw local file system. */
  static class Raw extends DelegateToFileSystem {
    Raw(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(FsConstants.LOCAL_FS_URI, new LocalFileSystem.Raw(), conf, FsConstants.LOCAL_FS_URI.getScheme(), false);
    }
  }
}
