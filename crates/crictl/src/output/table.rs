//! Tables as crictl prints them.

use std::io::{self, Write};

/// Go's `text/tabwriter` as crictl configures it (`minwidth 20, tabwidth 1, padding 3, ' '`)
/// for tables whose rows all have the same number of cells: every cell but the last of a row
/// is padded to its column's width. Widths are measured first (`measure`), then rows are
/// written one by one, so a large table is never held in memory as text.
pub struct Table {
    widths: Vec<usize>,
}

impl Table {
    /// crictl's minimum column width.
    pub const MIN_WIDTH: usize = 20;
    /// crictl's padding after the widest cell of a column.
    pub const PADDING: usize = 3;

    /// A table with no widths measured yet.
    pub fn new() -> Self {
        Table { widths: Vec::new() }
    }

    /// Takes a row into account for the column widths.
    pub fn measure<S: AsRef<str>>(&mut self, row: &[S]) {
        let cells = row.len().saturating_sub(1);
        if self.widths.len() < cells {
            self.widths.resize(cells, Self::MIN_WIDTH);
        }
        for (width, cell) in self.widths.iter_mut().zip(row) {
            let needed = cell.as_ref().chars().count() + Self::PADDING;
            if needed > *width {
                *width = needed;
            }
        }
    }

    /// Writes a measured row.
    pub fn write<S: AsRef<str>>(&self, out: &mut impl Write, row: &[S]) -> io::Result<()> {
        let last = row.len().saturating_sub(1);
        for (index, cell) in row.iter().enumerate() {
            let cell = cell.as_ref();
            out.write_all(cell.as_bytes())?;
            if index < last {
                let width = self.widths.get(index).copied().unwrap_or(Self::MIN_WIDTH);
                let pad = width.saturating_sub(cell.chars().count());
                for _ in 0..pad {
                    out.write_all(b" ")?;
                }
            }
        }
        out.write_all(b"\n")
    }
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes a whole table: its header, then its rows, in measured columns.
pub fn write_table<const N: usize>(
    out: &mut impl Write,
    header: &[&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut table = Table::new();
    table.measure(header);
    for row in rows {
        table.measure(row);
    }
    table.write(out, header)?;
    for row in rows {
        table.write(out, row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_like_tabwriter() {
        let rows = [
            ["A", "localhost/busybox:1", "x"],
            ["BB", "c", "last column is not padded"],
        ];
        let mut table = Table::new();
        for row in &rows {
            table.measure(row);
        }
        let mut out = Vec::new();
        for row in &rows {
            table.write(&mut out, row).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!(
                "A{}localhost/busybox:1   x\nBB{}c{}last column is not padded\n",
                " ".repeat(19),
                " ".repeat(18),
                " ".repeat(21)
            )
        );
    }
}
