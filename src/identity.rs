//! Who the server says it is at initialisation: name, human title, version, website and icon.
//!
//! The icon files in `assets/` (drawn by `assets/make-icon.py`) are compiled in and sent as
//! `data:` URIs, so a host shows them without fetching anything: the PNG every client must
//! support, and the SVG for those that prefer a scalable one.

use std::sync::OnceLock;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use rmcp::model::{Icon, Implementation};

pub(crate) const NAME: &str = "whop-chat-mcp";
pub(crate) const TITLE: &str = "Whop Chat";
pub(crate) const DESCRIPTION: &str =
    "Read and post Whop chat: channels, messages, the support inbox, uploads, waiting for replies.";
pub(crate) const WEBSITE: &str = env!("CARGO_PKG_HOMEPAGE");

const ICON_PNG: &[u8] = include_bytes!("../assets/icon.png");
const ICON_SVG: &str = include_str!("../assets/icon.svg");

/// The server's `serverInfo`, built once.
pub(crate) fn implementation() -> Implementation {
    static INFO: OnceLock<Implementation> = OnceLock::new();
    INFO.get_or_init(|| {
        Implementation::new(NAME, env!("CARGO_PKG_VERSION"))
            .with_title(TITLE)
            .with_description(DESCRIPTION)
            .with_website_url(WEBSITE)
            .with_icons(vec![
                icon("image/png", ICON_PNG, "512x512"),
                icon("image/svg+xml", ICON_SVG.as_bytes(), "any"),
            ])
    })
    .clone()
}

fn icon(mime: &str, bytes: &[u8], size: &str) -> Icon {
    Icon::new(format!("data:{mime};base64,{}", STANDARD.encode(bytes)))
        .with_mime_type(mime)
        .with_sizes(vec![size.to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icons_are_what_they_claim() {
        // PNG signature, then IHDR with width and height 512.
        assert_eq!(&ICON_PNG[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&ICON_PNG[12..16], b"IHDR");
        assert_eq!(&ICON_PNG[16..24], &[0, 0, 2, 0, 0, 0, 2, 0]);
        assert!(ICON_SVG.starts_with("<svg ") && ICON_SVG.contains("viewBox=\"0 0 512 512\""));
        let info = implementation();
        assert_eq!(info.title.as_deref(), Some(TITLE));
        let icons = info.icons.unwrap();
        assert!(
            icons[0]
                .src
                .starts_with("data:image/png;base64,iVBORw0KGgo")
        );
        assert!(icons[1].src.starts_with("data:image/svg+xml;base64,"));
    }
}
