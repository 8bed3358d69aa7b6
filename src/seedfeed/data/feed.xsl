<?xml version="1.0" encoding="utf-8"?>
<!-- How a browser shows a seedfeed feed (Atom or RSS) that someone opens by mistake: what
     a feed is, the address to paste into a reader, and the newest entries. Feed readers
     ignore this file. Summaries are escaped HTML in the feeds (render.py), written out as
     such here; titles and names are text. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat"/>

  <xsl:template match="/">
    <xsl:variable name="title" select="atom:feed/atom:title | rss/channel/title"/>
    <xsl:variable name="self"
        select="atom:feed/atom:link[@rel='self']/@href | rss/channel/atom:link[@rel='self']/@href"/>
    <html>
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <style>
          body{font-family:system-ui,sans-serif;max-width:42rem;margin:1.5rem auto;padding:0 1rem;line-height:1.5}
          .about{background:#f4f4f4;padding:.75rem 1rem;border-radius:.5rem}
          code{word-break:break-all}
          article{margin:1.5rem 0}
          h2{font-size:1.1rem;margin:0}
          .meta{color:#555;font-size:.9rem}
        </style>
      </head>
      <body>
        <h1><xsl:value-of select="$title"/></h1>
        <p class="about">This is a web feed. Copy its address into a feed reader to follow
          it: <code><xsl:value-of select="$self"/></code></p>
        <xsl:apply-templates select="atom:feed/atom:entry | rss/channel/item"/>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <article>
      <h2><a href="{atom:link[not(@rel) or @rel='alternate'][1]/@href}"><xsl:value-of select="atom:title"/></a></h2>
      <p class="meta">
        <xsl:value-of select="substring(atom:published, 1, 10)"/>
        <xsl:for-each select="atom:author/atom:name">
          <xsl:text> · </xsl:text><xsl:value-of select="."/>
        </xsl:for-each>
      </p>
      <p><xsl:value-of select="atom:summary" disable-output-escaping="yes"/></p>
    </article>
  </xsl:template>

  <xsl:template match="item">
    <article>
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <p class="meta">
        <xsl:value-of select="pubDate"/>
        <xsl:for-each select="dc:creator">
          <xsl:text> · </xsl:text><xsl:value-of select="."/>
        </xsl:for-each>
      </p>
      <p><xsl:value-of select="description" disable-output-escaping="yes"/></p>
    </article>
  </xsl:template>
</xsl:stylesheet>
