"""Layer styles stored inside a GeoPackage, for QGIS (and any reader of SLD).

QGIS reads the table ``layer_styles`` of a GeoPackage (one row per style: the layer's
table name, a style name, the style as QML and as SLD, and whether it is the layer's
default) and draws a layer with its default style as soon as it is added. This module
builds those styles — single symbols, graduated colours and labels — and writes the
table, registered in ``gpkg_contents`` as an attribute table so the file stays a valid
GeoPackage.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

__all__ = ["Graduated", "LayerStyleDef", "write_layer_styles"]

QGIS_VERSION = "3.28.0-Firenze"
_GEOM = {"point": ("marker", 0), "line": ("line", 1), "polygon": ("fill", 2)}


@dataclass(frozen=True)
class Graduated:
    """Graduated colours on a numeric column.

    Attributes
    ----------
    column
        The column classed.
    bounds
        Class bounds, ascending (``len(colors) + 1`` values).
    colors
        ``#rrggbb`` per class.
    labels
        Legend text per class.
    """

    column: str
    bounds: Sequence[float]
    colors: Sequence[str]
    labels: Sequence[str]


@dataclass(frozen=True)
class LayerStyleDef:
    """The default style of one layer.

    Attributes
    ----------
    table
        The layer's table name in the GeoPackage.
    name
        The style's name (shown in QGIS's style list; Chinese is fine).
    geometry
        ``point``, ``line`` or ``polygon``.
    fill
        Fill (or marker) colour ``#rrggbb``; ``None``: no fill.
    stroke
        Outline colour; ``None``: no outline.
    stroke_width_mm
        Outline width.
    marker
        QGIS marker shape (``circle``, ``square``, ``triangle``, ``star`` ...).
    size_mm
        Marker size.
    graduated
        Graduated colours instead of one fill.
    label
        Column whose value labels each feature.
    description
        Free text stored with the style.
    """

    table: str
    name: str
    geometry: str
    fill: str | None = "#cccccc"
    stroke: str | None = "#333333"
    stroke_width_mm: float = 0.26
    marker: str = "circle"
    size_mm: float = 2.4
    graduated: Graduated | None = None
    label: str | None = None
    description: str = ""


def _rgba(color: str | None) -> str:
    if color is None:
        return "0,0,0,0"
    c = color.lstrip("#")
    return f"{int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},255"


def _options(props: dict[str, str]) -> str:
    inner = "".join(f'<Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>'
                    for k, v in props.items())
    return f'<Option type="Map">{inner}</Option>'


def _symbol(style: LayerStyleDef, name: str, fill: str | None) -> str:
    kind, _ = _GEOM[style.geometry]
    if kind == "fill":
        layer_class = "SimpleFill"
        props = {"color": _rgba(fill), "style": "solid" if fill else "no",
                 "outline_color": _rgba(style.stroke),
                 "outline_style": "solid" if style.stroke else "no",
                 "outline_width": f"{style.stroke_width_mm:g}", "outline_width_unit": "MM"}
    elif kind == "line":
        layer_class = "SimpleLine"
        props = {"line_color": _rgba(style.stroke), "line_style": "solid",
                 "line_width": f"{style.stroke_width_mm:g}", "line_width_unit": "MM"}
    else:
        layer_class = "SimpleMarker"
        props = {"name": style.marker, "color": _rgba(fill),
                 "outline_color": _rgba(style.stroke),
                 "outline_style": "solid" if style.stroke else "no",
                 "outline_width": f"{style.stroke_width_mm:g}", "outline_width_unit": "MM",
                 "size": f"{style.size_mm:g}", "size_unit": "MM"}
    return (f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" '
            f'force_rhr="0"><layer class="{layer_class}" enabled="1" locked="0" pass="0">'
            f"{_options(props)}</layer></symbol>")


def qml(style: LayerStyleDef) -> str:
    """The style as a QGIS QML document."""
    g = style.graduated
    if g is None:
        renderer = ('<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" '
                    f'enableorderby="0"><symbols>{_symbol(style, "0", style.fill)}</symbols>'
                    "</renderer-v2>")
    else:
        ranges = "".join(
            f'<range lower="{g.bounds[i]:.6f}" upper="{g.bounds[i + 1]:.6f}" symbol="{i}" '
            f'label={quoteattr(g.labels[i])} render="true"/>' for i in range(len(g.colors)))
        symbols = "".join(_symbol(style, str(i), c) for i, c in enumerate(g.colors))
        renderer = (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(g.column)} '
                    'graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" '
                    f'enableorderby="0"><ranges>{ranges}</ranges><symbols>{symbols}</symbols>'
                    "</renderer-v2>")
    labeling = ""
    if style.label:
        placement = "1" if style.geometry == "polygon" else "6"
        labeling = (
            '<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={quoteattr(style.label)} isExpression="0" '
            'fontFamily="Noto Sans CJK SC" fontSize="9" fontSizeUnit="Point" '
            'textColor="20,20,20,255" textOpacity="1">'
            '<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" '
            'bufferColor="255,255,255,255" bufferOpacity="0.8"/></text-style>'
            f'<placement placement="{placement}" dist="1" distUnits="MM"/>'
            '<rendering scaleVisibility="0"/></settings></labeling>')
    _, geom_type = _GEOM[style.geometry]
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="{QGIS_VERSION}" styleCategories="Symbology|Labeling" '
            f'labelsEnabled="{1 if style.label else 0}">{renderer}{labeling}'
            f"<layerGeometryType>{geom_type}</layerGeometryType></qgis>\n")


def _sld_symbolizer(style: LayerStyleDef, fill: str | None) -> str:
    kind, _ = _GEOM[style.geometry]
    stroke = (f'<se:Stroke><se:SvgParameter name="stroke">{style.stroke}</se:SvgParameter>'
              f'<se:SvgParameter name="stroke-width">{style.stroke_width_mm * 3.78:.2f}'
              "</se:SvgParameter></se:Stroke>") if style.stroke else ""
    fill_el = (f'<se:Fill><se:SvgParameter name="fill">{fill}</se:SvgParameter></se:Fill>'
               if fill else "")
    if kind == "fill":
        return f"<se:PolygonSymbolizer>{fill_el}{stroke}</se:PolygonSymbolizer>"
    if kind == "line":
        return f"<se:LineSymbolizer>{stroke}</se:LineSymbolizer>"
    return (f"<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>{style.marker}"
            f"</se:WellKnownName>{fill_el}{stroke}</se:Mark>"
            f"<se:Size>{style.size_mm * 3.78:.1f}</se:Size></se:Graphic></se:PointSymbolizer>")


def sld(style: LayerStyleDef) -> str:
    """The style as an OGC SLD 1.1 document (QGIS exports and reads the same form)."""
    g = style.graduated
    rules = []
    if g is None:
        rules.append(f"<se:Rule><se:Name>{escape(style.name)}</se:Name>"
                     f"{_sld_symbolizer(style, style.fill)}</se:Rule>")
    else:
        col = escape(g.column)
        for i, c in enumerate(g.colors):
            flt = ("<ogc:Filter><ogc:And><ogc:PropertyIsGreaterThanOrEqualTo>"
                   f"<ogc:PropertyName>{col}</ogc:PropertyName>"
                   f"<ogc:Literal>{g.bounds[i]:.6f}</ogc:Literal>"
                   "</ogc:PropertyIsGreaterThanOrEqualTo><ogc:PropertyIsLessThan>"
                   f"<ogc:PropertyName>{col}</ogc:PropertyName>"
                   f"<ogc:Literal>{g.bounds[i + 1]:.6f}</ogc:Literal>"
                   "</ogc:PropertyIsLessThan></ogc:And></ogc:Filter>")
            rules.append(f"<se:Rule><se:Name>{escape(g.labels[i])}</se:Name>"
                         f"<se:Description><se:Title>{escape(g.labels[i])}</se:Title>"
                         f"</se:Description>{flt}{_sld_symbolizer(style, c)}</se:Rule>")
    if style.label:
        rules.append(
            "<se:Rule><se:TextSymbolizer><se:Label><ogc:PropertyName>"
            f"{escape(style.label)}</ogc:PropertyName></se:Label><se:Font>"
            '<se:SvgParameter name="font-family">Noto Sans CJK SC</se:SvgParameter>'
            '<se:SvgParameter name="font-size">12</se:SvgParameter></se:Font>'
            '<se:Halo><se:Radius>1</se:Radius><se:Fill><se:SvgParameter name="fill">'
            "#ffffff</se:SvgParameter></se:Fill></se:Halo></se:TextSymbolizer></se:Rule>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" '
            'xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.1.0" '
            'xsi:schemaLocation="http://www.opengis.net/sld '
            'http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd">'
            f"<NamedLayer><se:Name>{escape(style.table)}</se:Name><UserStyle>"
            f"<se:Name>{escape(style.name)}</se:Name><se:FeatureTypeStyle>{''.join(rules)}"
            "</se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>\n")


_TABLE = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256),
    f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
    useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)"""


def write_layer_styles(gpkg: str | Path, styles: Sequence[LayerStyleDef]) -> None:
    """Write each style as its layer's default into the GeoPackage's ``layer_styles``.

    Layers the file does not hold are skipped. The table is registered in
    ``gpkg_contents`` (data type ``attributes``), as QGIS does when it saves a style.
    """
    with closing(sqlite3.connect(gpkg)) as con, con:
        geom_cols = dict(con.execute(
            "SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        con.execute(_TABLE)
        con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
                    "description) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                    "'QGIS layer styles (QML and SLD)')")
        for s in styles:
            if s.table not in geom_cols:
                continue
            con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?",
                        (s.table,))
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, "
                "description, owner, ui) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL)",
                (s.table, geom_cols[s.table], s.name, qml(s), sld(s), s.description))
