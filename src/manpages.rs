//! Man pages generated from the clap definitions: `httpat.1` and one page per subcommand. The
//! committed copies in `man/` are held to these by a test.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;

/// Every page as (file name, roff text).
pub fn render_all() -> Result<Vec<(String, Vec<u8>)>> {
    let mut root = Cli::command();
    root.build();
    let mut pages = vec![("httpat.1".to_string(), render(root.clone())?)];
    for sub in root
        .get_subcommands()
        .filter(|sub| sub.get_name() != "help")
    {
        let name = format!("httpat-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .display_name(name.clone())
            .bin_name(format!("httpat {}", sub.get_name()))
            .version(env!("CARGO_PKG_VERSION"));
        pages.push((format!("{name}.1"), render(page)?));
    }
    Ok(pages)
}

fn render(command: clap::Command) -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    Ok(page)
}
